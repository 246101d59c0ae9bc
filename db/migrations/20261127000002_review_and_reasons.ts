import type { Knex } from 'knex';

// What is bought (description), for the buyer's wallet to show instead of our ids.
// Operators resolve NEEDS_REVIEW (workflows/operator.ts): two states of its own for how a review ends (ACCEPTED,
// REVIEW_CLOSED). And every status says why it is what it is (status_reason: "expired unpaid", the channel's decline
// reason, the anomaly, the operator's reason), on the row and in each row of the status history.
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
  'ACCEPTED',
  'REVIEW_CLOSED',
];
const OLD_STATUSES = STATUSES.slice(0, 9);
const list = (values: string[]) => values.map((v) => `'${v}'`).join(', ');

const trigger = (withReason: boolean) => `
    create or replace function payments_status_changed() returns trigger language plpgsql as $$
    declare
      history_id bigint;
    begin
      if tg_op = 'INSERT' or new.status is distinct from old.status then
        insert into payment_status_history (payment_id, status, resolved_by${withReason ? ', reason' : ''})
          values (new.id, new.status, new.resolved_by${withReason ? ', new.status_reason' : ''}) returning id into history_id;
        perform pg_notify('payment_status', json_build_object('paymentId', new.id, 'id', history_id)::text);
      end if;
      return new;
    end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table payments drop constraint payments_status_check');
  await knex.raw(`alter table payments add constraint payments_status_check check (status in (${list(STATUSES)}))`);
  await knex.schema.alterTable('payments', (t) => {
    t.text('status_reason').comment('why the payment is in its status, in words for a person (buyer or operator)');
    t.text('description').comment("what is bought, in the shop's words: shown to the buyer by the channel");
  });
  await knex.schema.alterTable('payment_status_history', (t) => {
    t.text('reason').comment('the status_reason the row had with this status');
  });
  await knex.raw(trigger(true));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(trigger(false));
  await knex.schema.alterTable('payment_status_history', (t) => {
    t.dropColumn('reason');
  });
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('status_reason');
    t.dropColumn('description');
  });
  await knex.raw('alter table payments drop constraint payments_status_check');
  await knex.raw(`alter table payments add constraint payments_status_check check (status in (${list(OLD_STATUSES)}))`);
}
