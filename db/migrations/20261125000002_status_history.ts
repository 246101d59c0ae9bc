import type { Knex } from 'knex';

// Every status change of a payment, in order, written by a trigger in the same transaction as the change (whoever
// makes it: worker, API, operator by hand), and announced with NOTIFY payment_status at commit. The API's push
// stream replays this table after Last-Event-ID, so a client that reconnects misses nothing, and listens for the
// notification, so every API process behind a load balancer hears every change.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payment_status_history', (t) => {
    t.bigIncrements('id').primary().comment('also the SSE event id');
    t.uuid('payment_id').notNullable().references('payments.id');
    t.text('status').notNullable();
    t.text('resolved_by');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['payment_id', 'id']);
  });
  await knex.raw(`
    create function payments_status_changed() returns trigger language plpgsql as $$
    declare
      history_id bigint;
    begin
      if tg_op = 'INSERT' or new.status is distinct from old.status then
        insert into payment_status_history (payment_id, status, resolved_by)
          values (new.id, new.status, new.resolved_by) returning id into history_id;
        perform pg_notify('payment_status', json_build_object('paymentId', new.id, 'id', history_id)::text);
      end if;
      return new;
    end $$`);
  await knex.raw(`
    create trigger payments_status_changed after insert or update of status on payments
    for each row execute function payments_status_changed()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger payments_status_changed on payments');
  await knex.raw('drop function payments_status_changed()');
  await knex.schema.dropTable('payment_status_history');
}
