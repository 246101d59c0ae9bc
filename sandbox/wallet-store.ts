// The emulated wallet's durable copy in PostgreSQL (schema sandbox_wallet), so a restart of the sandbox keeps every
// payment, refund and pending notification: an open payment's wallet page still answers, the merchant's queries still
// find it, and a notification not yet accepted is delivered after the restart on the retry schedule where it left off.
//
// The wallet (sandbox/wallet.ts) keeps working on its in-memory objects, synchronously, as its emulators and tests
// expect; this store is written through. The wallet hands it the payments it changed; `save` writes them (the payment
// row, its refunds, its notifications and its new delivery attempts) in one transaction. One process owns a wallet
// name at a time (the sandbox process); the rows say what it last stored, and a restart loads them back.
//
//   payments       (wallet, channel_payment_id); unique (wallet, merchant_order_id), as the wallet's create is
//   refunds        (wallet, refund_id); unique (wallet, channel_payment_id, refund_key)
//   notifications  (wallet, event_id): one event the merchant must hear about, its state and where its retries are
//   deliveries     (wallet, channel_payment_id, seq): every attempt at delivering a notification, append-only
import type { Knex } from 'knex';
import type { WalletPayment, WalletRefund, WalletStatus } from './wallet';

export const WALLET_SCHEMA = 'sandbox_wallet';

/** One notification event (a payment's state change) and where its delivery stands. */
export interface WalletNotice {
  eventId: string;
  kind: 'paid' | 'failed';
  /** dropped: lost by the callback-drop fault; exhausted: the retry schedule ran out without an acceptance. */
  state: 'pending' | 'accepted' | 'exhausted' | 'dropped';
  /** The attempt number to make next (1 before the first). */
  nextAttempt: number;
  /** When that attempt is due (ISO), while pending. */
  dueAt?: string;
}

/**
 * A payment as the store holds it: the wallet's fields (its dropped events are the notices' `dropped` state), plus
 * what its timers were waiting for.
 */
export type StoredPayment = Omit<WalletPayment, 'droppedEvents'> & {
  /** The late-settle fault's settlement, while it is still to come (ISO). */
  settleDueAt?: string;
  notices: WalletNotice[];
};

/** Creates the schema and its tables if they are missing; safe to run at every start (not concurrently). */
export async function ensureWalletSchema(db: Knex): Promise<void> {
  await db.raw(`create schema if not exists ${WALLET_SCHEMA}`);
  const schema = () => db.schema.withSchema(WALLET_SCHEMA);
  if (!(await schema().hasTable('payments'))) {
    await schema().createTable('payments', (t) => {
      t.text('wallet').notNullable().comment('which emulator: sandboxpay, wechatpay, alipay');
      t.text('channel_payment_id').notNullable();
      t.text('merchant_id').notNullable();
      t.text('merchant_order_id').notNullable().comment("the merchant's reference (out_trade_no, merchantOrderId)");
      t.bigInteger('amount').notNullable().comment('minor units');
      t.specificType('currency', 'char(3)').notNullable();
      t.text('description');
      t.text('notify_url').notNullable();
      t.text('status').notNullable().comment("the wallet's status word (NOTPAY, USERPAYING, SUCCESS, ...)");
      t.timestamp('created_at', { useTz: true }).notNullable();
      t.timestamp('paid_at', { useTz: true });
      t.timestamp('closed_at', { useTz: true });
      t.text('reason').comment("why it failed: the buyer's decline reason");
      t.timestamp('settle_due_at', { useTz: true }).comment('the late-settle fault: when the channel settles it');
      t.jsonb('extra').notNullable().comment("the protocol's own fields (app id, buyer id, scanned, ...)");
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.primary(['wallet', 'channel_payment_id']);
      t.unique(['wallet', 'merchant_order_id']);
    });
  }
  if (!(await schema().hasTable('refunds'))) {
    await schema().createTable('refunds', (t) => {
      t.text('wallet').notNullable();
      t.text('refund_id').notNullable();
      t.text('channel_payment_id').notNullable();
      t.integer('seq').notNullable().comment("the refund's place among its payment's refunds");
      t.text('refund_key').notNullable().comment("the merchant's key (out_refund_no, out_request_no, refundKey)");
      t.bigInteger('amount').notNullable();
      t.text('status').notNullable();
      t.timestamp('created_at', { useTz: true }).notNullable();
      t.timestamp('succeeded_at', { useTz: true });
      t.primary(['wallet', 'refund_id']);
      t.unique(['wallet', 'channel_payment_id', 'refund_key']);
      t.foreign(['wallet', 'channel_payment_id'])
        .references(['wallet', 'channel_payment_id'])
        .inTable(`${WALLET_SCHEMA}.payments`);
    });
  }
  if (!(await schema().hasTable('notifications'))) {
    await schema().createTable('notifications', (t) => {
      t.text('wallet').notNullable();
      t.text('event_id').notNullable();
      t.text('channel_payment_id').notNullable();
      t.integer('seq').notNullable().comment("the event's number among its payment's (event ids count on from it)");
      t.text('kind').notNullable().comment('paid | failed');
      t.text('state').notNullable().comment('pending | accepted | exhausted | dropped');
      t.integer('next_attempt').notNullable();
      t.timestamp('due_at', { useTz: true }).comment('when the next attempt is due, while pending');
      t.primary(['wallet', 'event_id']);
      t.foreign(['wallet', 'channel_payment_id'])
        .references(['wallet', 'channel_payment_id'])
        .inTable(`${WALLET_SCHEMA}.payments`);
    });
    await db.raw(
      `create index notifications_pending on ${WALLET_SCHEMA}.notifications (wallet) where state = 'pending'`,
    );
  }
  if (!(await schema().hasTable('deliveries'))) {
    await schema().createTable('deliveries', (t) => {
      t.text('wallet').notNullable();
      t.text('channel_payment_id').notNullable();
      t.integer('seq').notNullable().comment("the attempt's place in its payment's delivery log");
      t.text('event_id').notNullable();
      t.integer('attempt').notNullable();
      t.integer('http_status').notNullable().comment('0: a network error or timeout');
      t.boolean('accepted').notNullable();
      t.timestamp('at', { useTz: true }).notNullable();
      t.primary(['wallet', 'channel_payment_id', 'seq']);
      t.foreign(['wallet', 'channel_payment_id'])
        .references(['wallet', 'channel_payment_id'])
        .inTable(`${WALLET_SCHEMA}.payments`);
    });
  }
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);
const date = (s: string | undefined) => (s ? new Date(s) : null);

/** What a restart needs of one wallet (one emulator), and where its changes go. */
export class WalletStore {
  /** Delivery attempts already stored, per payment: the log is append-only, so a save inserts only the rest. */
  private readonly storedDeliveries = new Map<string, number>();

  private constructor(
    private readonly db: Knex,
    /** The wallet's name in the tables: one per emulator (sandboxpay, wechatpay, alipay). */
    readonly wallet: string,
    /** The payments as stored when the store was opened, oldest first. */
    readonly loaded: StoredPayment[],
  ) {
    for (const p of loaded) this.storedDeliveries.set(p.channelPaymentId, p.deliveries.length);
  }

  /** Ensures the schema and loads the wallet's payments. */
  static async open(db: Knex, wallet: string): Promise<WalletStore> {
    await ensureWalletSchema(db);
    return new WalletStore(db, wallet, await load(db, wallet));
  }

  /** Stores these payments as they are now (one transaction). A failed save can be repeated: every write is an upsert. */
  async save(payments: StoredPayment[]): Promise<void> {
    if (payments.length === 0) return;
    const wallet = this.wallet;
    const rows = payments.map((p) => ({
      wallet,
      channel_payment_id: p.channelPaymentId,
      merchant_id: p.merchantId,
      merchant_order_id: p.merchantOrderId,
      amount: p.amount,
      currency: p.currency,
      description: p.description ?? null,
      notify_url: p.notifyUrl,
      status: p.status,
      created_at: date(p.createdAt),
      paid_at: date(p.paidAt),
      closed_at: date(p.closedAt),
      reason: p.reason ?? null,
      settle_due_at: date(p.settleDueAt),
      extra: JSON.stringify(p.extra),
      updated_at: new Date(),
    }));
    const refunds = payments.flatMap((p) =>
      p.refunds.map((r, seq) => ({
        wallet,
        refund_id: r.refundId,
        channel_payment_id: p.channelPaymentId,
        seq,
        refund_key: r.refundKey,
        amount: r.amount,
        status: r.status,
        created_at: date(r.createdAt),
        succeeded_at: date(r.succeededAt),
      })),
    );
    const notices = payments.flatMap((p) =>
      p.notices.map((n, seq) => ({
        wallet,
        event_id: n.eventId,
        channel_payment_id: p.channelPaymentId,
        seq,
        kind: n.kind,
        state: n.state,
        next_attempt: n.nextAttempt,
        due_at: date(n.dueAt),
      })),
    );
    const stored = new Map(payments.map((p) => [p.channelPaymentId, p.deliveries.length]));
    const deliveries = payments.flatMap((p) => {
      const from = this.storedDeliveries.get(p.channelPaymentId) ?? 0;
      return p.deliveries.slice(from).map((d, i) => ({
        wallet,
        channel_payment_id: p.channelPaymentId,
        seq: from + i,
        event_id: d.eventId,
        attempt: d.attempt,
        http_status: d.httpStatus,
        accepted: d.accepted,
        at: date(d.at),
      }));
    });
    await this.db.transaction(async (tx) => {
      const table = (name: string) => tx(name).withSchema(WALLET_SCHEMA);
      await table('payments').insert(rows).onConflict(['wallet', 'channel_payment_id']).merge();
      if (refunds.length) await table('refunds').insert(refunds).onConflict(['wallet', 'refund_id']).merge();
      if (notices.length) await table('notifications').insert(notices).onConflict(['wallet', 'event_id']).merge();
      if (deliveries.length) {
        await table('deliveries').insert(deliveries).onConflict(['wallet', 'channel_payment_id', 'seq']).ignore();
      }
    });
    for (const [id, n] of stored) this.storedDeliveries.set(id, Math.max(n, this.storedDeliveries.get(id) ?? 0));
  }
}

interface PaymentRow {
  channel_payment_id: string;
  merchant_id: string;
  merchant_order_id: string;
  amount: number;
  currency: string;
  description: string | null;
  notify_url: string;
  status: string;
  created_at: Date;
  paid_at: Date | null;
  closed_at: Date | null;
  reason: string | null;
  settle_due_at: Date | null;
  extra: Record<string, string>;
}

async function load(db: Knex, wallet: string): Promise<StoredPayment[]> {
  const table = (name: string) => db(name).withSchema(WALLET_SCHEMA).where({ wallet });
  const [rows, refunds, notices, deliveries] = await Promise.all([
    table('payments').orderBy(['created_at', 'channel_payment_id']) as Promise<PaymentRow[]>,
    table('refunds').orderBy(['channel_payment_id', 'seq']),
    table('notifications').orderBy(['channel_payment_id', 'seq']),
    table('deliveries').orderBy(['channel_payment_id', 'seq']),
  ]);
  const group = <T extends { channel_payment_id: string }>(list: T[]) => {
    const by = new Map<string, T[]>();
    for (const row of list) by.set(row.channel_payment_id, [...(by.get(row.channel_payment_id) ?? []), row]);
    return by;
  };
  const refundsOf = group(refunds as { channel_payment_id: string; [k: string]: unknown }[]);
  const noticesOf = group(notices as { channel_payment_id: string; [k: string]: unknown }[]);
  const deliveriesOf = group(deliveries as { channel_payment_id: string; [k: string]: unknown }[]);
  return rows.map((r) => ({
    channelPaymentId: r.channel_payment_id,
    merchantId: r.merchant_id,
    merchantOrderId: r.merchant_order_id,
    amount: r.amount,
    currency: r.currency,
    ...(r.description !== null ? { description: r.description } : {}),
    notifyUrl: r.notify_url,
    status: r.status as WalletStatus,
    createdAt: r.created_at.toISOString(),
    ...(r.paid_at ? { paidAt: r.paid_at.toISOString() } : {}),
    ...(r.closed_at ? { closedAt: r.closed_at.toISOString() } : {}),
    ...(r.reason !== null ? { reason: r.reason } : {}),
    ...(r.settle_due_at ? { settleDueAt: r.settle_due_at.toISOString() } : {}),
    extra: r.extra,
    refunds: (refundsOf.get(r.channel_payment_id) ?? []).map((f) => ({
      refundId: f.refund_id as string,
      refundKey: f.refund_key as string,
      amount: f.amount as number,
      status: f.status as WalletRefund['status'],
      createdAt: (f.created_at as Date).toISOString(),
      ...(f.succeeded_at ? { succeededAt: iso(f.succeeded_at as Date)! } : {}),
    })),
    deliveries: (deliveriesOf.get(r.channel_payment_id) ?? []).map((d) => ({
      eventId: d.event_id as string,
      attempt: d.attempt as number,
      httpStatus: d.http_status as number,
      accepted: d.accepted as boolean,
      at: (d.at as Date).toISOString(),
    })),
    notices: (noticesOf.get(r.channel_payment_id) ?? []).map((n) => ({
      eventId: n.event_id as string,
      kind: n.kind as WalletNotice['kind'],
      state: n.state as WalletNotice['state'],
      nextAttempt: n.next_attempt as number,
      ...(n.due_at ? { dueAt: iso(n.due_at as Date)! } : {}),
    })),
  }));
}
