import type { Knex } from 'knex';

// Frozen copies of the lists at the time of this migration (a migration must not change when code changes).
const STATUSES = [
  'UNPAID',
  'PAYING',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'CLOSED',
  'REFUNDING',
  'REFUNDED',
  'NEEDS_REVIEW',
];
const RESOLVED_BY = ['callback', 'query', 'close', 'operator'];
const EVENT_SOURCES = ['callback', 'query', 'operator', 'system'];

const list = (values: string[]) => values.map((v) => `'${v}'`).join(', ');

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payments', (t) => {
    t.uuid('id').primary();
    t.text('order_id').notNullable().comment("the shop's order this payment pays for");
    t.bigInteger('amount').notNullable().comment('integer minor units of currency (cents, fen)');
    t.specificType('currency', 'char(3)').notNullable().comment('ISO 4217 code, upper case');
    t.text('channel').notNullable().comment('payment channel name, e.g. sandboxpay');
    t.text('channel_payment_id').comment("the channel's id for this payment, once created there");
    t.text('pay_url').comment('where the buyer pays (wallet deep link / page)');
    t.text('status').notNullable().defaultTo('UNPAID');
    t.text('resolved_by').comment('what settled the final state: callback, query, close or operator');
    t.text('idempotency_key').notNullable().unique().comment("the client's Idempotency-Key for the create request");
    t.text('request_fingerprint').notNullable().comment('hash of the create request body: same key + other body = 409');
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('paid_at', { useTz: true }).comment('when the channel says the buyer paid');
    t.timestamp('finalized_at', { useTz: true }).comment('when the payment reached a final state here');
    t.timestamp('order_notified_at', { useTz: true }).comment('when the order service acknowledged the final state');
    t.unique(['channel', 'channel_payment_id']);
    t.index(['status', 'created_at']);
    t.index(['order_id']);
  });
  await knex.raw(`alter table payments add constraint payments_status_check check (status in (${list(STATUSES)}))`);
  await knex.raw(
    `alter table payments add constraint payments_resolved_by_check check (resolved_by is null or resolved_by in (${list(RESOLVED_BY)}))`,
  );
  await knex.raw(`alter table payments add constraint payments_amount_check check (amount > 0)`);
  await knex.raw(`alter table payments add constraint payments_currency_check check (currency ~ '^[A-Z]{3}$')`);

  await knex.schema.createTable('payment_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('payment_id').references('payments.id').comment('null when the event names no payment we know');
    t.text('channel').notNullable();
    t.text('source').notNullable().comment('callback, query, operator or system');
    t.text('type').notNullable().comment('what happened, e.g. callback, query, close, cancel, requery, notify');
    t.text('channel_event_id').comment("the channel's id for a notification; duplicates share it");
    t.jsonb('payload').comment('the parsed message as received (audit); never logged');
    t.boolean('signature_valid').comment('for callbacks: did the signature verify');
    t.text('outcome').notNullable().comment('accepted, duplicate, rejected, late, pending, ...');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['channel', 'channel_event_id']);
    t.index(['payment_id', 'received_at']);
  });
  await knex.raw(
    `alter table payment_events add constraint payment_events_source_check check (source in (${list(EVENT_SOURCES)}))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payment_events');
  await knex.schema.dropTable('payments');
}
