import type { Knex } from 'knex';

// What the buyer is handed to pay, typed by channel (a page to open, a QR code's content, a client secret): see
// BuyerHandoff in channels/types.ts. pay_url stays the page a browser can open, when there is one.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.jsonb('handoff').comment('what the buyer is handed to pay: {kind: redirect|qr_code|client_secret, ...}');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('handoff');
  });
}
