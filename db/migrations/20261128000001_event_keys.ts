import type { Knex } from 'knex';

// Events our own workflows write (an operator's action, recorded by the workflow that did it) are written by a
// retried activity: a key of ours makes the same event one row however often the write is retried.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_events', (t) => {
    t.text('event_key').comment(
      "our key for an event a workflow writes (retries write it once); null for the channels'",
    );
    t.unique(['event_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_events', (t) => {
    t.dropUnique(['event_key']);
    t.dropColumn('event_key');
  });
}
