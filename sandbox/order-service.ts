// The reference order service: the shop's system of record for orders, the one we must keep in sync. It has its
// own tables (schema order_service), applies payment results idempotently (Idempotency-Key), records every applied
// result as a transition so tests and audits can count them, and can be made to fail (error rate, outage, latency).
// It takes a payment result only when it carries our signature (Payment-Signature: HMAC-SHA256 over t.body with a key
// of ORDER_NOTIFY_SIGNING_KEYS, 5 min tolerance): anyone else who reaches it cannot mark an order paid. The contract
// it implements is docs/order-service.openapi.yaml.
//
//   POST /orders                            create an order (idempotent on orderId)
//   GET  /orders/{id}                       the order and its transitions
//   GET  /orders                            all orders (audits)
//   POST /orders/{id}/cancel                the shop cancels an unpaid order
//   POST /orders/{id}/payment-result        what our notifier calls (signed): {orderId, paymentId, status, amount,
//                                           currency, idempotencyKey}
//   GET/PUT /admin/faults                   {errorRate, latencyMs, outageForMs}
//   GET  /admin/signatures                  payment results accepted by signing key id, refused by problem (a key
//                                           rotation is done when the old key id stops counting up)
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { SIGNATURE_HEADER, type SigningKey, verifySignature } from '../activities/order-signature';
import { DECIDED_STATUSES } from '../workflows/states';
import { Chance } from './chance';

export const orderServiceFaultsSchema = z.object({
  /** Share of payment-result calls answered 503. */
  errorRate: z.number().min(0).max(1),
  /** Added to every payment-result call. */
  latencyMs: z.number().int().min(0),
  /** Payment-result calls answer 503 until this time (ISO), if set. */
  outageUntil: z.string().nullable(),
});
export type OrderServiceFaults = z.infer<typeof orderServiceFaultsSchema>;

export type OrderStatus = 'UNPAID' | 'PAID' | 'CANCELLED';

export interface OrderTransition {
  idempotencyKey: string;
  paymentId: string;
  paymentStatus: string;
  fromStatus: OrderStatus;
  toStatus: OrderStatus;
  accepted: boolean;
  reason: string | null;
  at: string;
}

export interface PaymentResultAck {
  accepted: boolean;
  orderStatus: OrderStatus;
  reason?: string;
}

const SCHEMA = 'order_service';

export async function ensureOrderServiceSchema(db: Knex): Promise<void> {
  await db.raw(`create schema if not exists ${SCHEMA}`);
  if (!(await db.schema.withSchema(SCHEMA).hasTable('orders'))) {
    await db.schema.withSchema(SCHEMA).createTable('orders', (t) => {
      t.text('order_id').primary();
      t.bigInteger('amount').notNullable();
      t.specificType('currency', 'char(3)').notNullable();
      t.text('description');
      t.text('status').notNullable().defaultTo('UNPAID');
      t.text('payment_id');
      t.timestamp('paid_at', { useTz: true });
      t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
    });
  }
  if (!(await db.schema.withSchema(SCHEMA).hasTable('order_transitions'))) {
    await db.schema.withSchema(SCHEMA).createTable('order_transitions', (t) => {
      t.bigIncrements('id').primary();
      t.text('order_id').notNullable().references('order_id').inTable(`${SCHEMA}.orders`);
      t.text('idempotency_key').notNullable().unique();
      t.text('payment_id').notNullable();
      t.text('payment_status').notNullable();
      t.text('from_status').notNullable();
      t.text('to_status').notNullable();
      t.boolean('accepted').notNullable();
      t.text('reason');
      t.timestamp('at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      t.index(['order_id']);
    });
  }
}

const createSchema = z.object({
  orderId: z.string().min(1).max(128).optional(),
  amount: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  description: z.string().max(256).optional(),
});

const resultSchema = z.object({
  orderId: z.string().min(1),
  paymentId: z.string().min(1),
  status: z.enum(DECIDED_STATUSES),
  amount: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  idempotencyKey: z.string().min(1),
});

interface OrderRow {
  order_id: string;
  amount: number;
  currency: string;
  description: string | null;
  status: OrderStatus;
  payment_id: string | null;
  paid_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface TransitionRow {
  order_id: string;
  idempotency_key: string;
  payment_id: string;
  payment_status: string;
  from_status: OrderStatus;
  to_status: OrderStatus;
  accepted: boolean;
  reason: string | null;
  at: Date;
}

function orderView(o: OrderRow, transitions: TransitionRow[] = []) {
  return {
    orderId: o.order_id,
    amount: o.amount,
    currency: o.currency,
    description: o.description,
    status: o.status,
    paymentId: o.payment_id,
    paidAt: o.paid_at?.toISOString() ?? null,
    createdAt: o.created_at.toISOString(),
    transitions: transitions.map(
      (t): OrderTransition => ({
        idempotencyKey: t.idempotency_key,
        paymentId: t.payment_id,
        paymentStatus: t.payment_status,
        fromStatus: t.from_status,
        toStatus: t.to_status,
        accepted: t.accepted,
        reason: t.reason,
        at: t.at.toISOString(),
      }),
    ),
  };
}

/** The order service's rule for a payment result: what the order becomes, and whether the result was accepted. */
function apply(order: OrderRow, result: z.infer<typeof resultSchema>): { to: OrderStatus; ack: PaymentResultAck } {
  if (result.status !== 'SUCCESS') {
    // An unpaid outcome leaves the order open for another payment attempt.
    return { to: order.status, ack: { accepted: true, orderStatus: order.status } };
  }
  if (result.amount !== order.amount || result.currency !== order.currency) {
    return { to: order.status, ack: { accepted: false, orderStatus: order.status, reason: 'amount_mismatch' } };
  }
  if (order.status === 'UNPAID') return { to: 'PAID', ack: { accepted: true, orderStatus: 'PAID' } };
  if (order.status === 'PAID' && order.payment_id === result.paymentId) {
    return { to: 'PAID', ack: { accepted: true, orderStatus: 'PAID' } };
  }
  const reason = order.status === 'CANCELLED' ? 'order_cancelled' : 'already_paid';
  return { to: order.status, ack: { accepted: false, orderStatus: order.status, reason } };
}

export interface OrderServiceOptions {
  db: Knex;
  seed: string;
  faults?: Partial<OrderServiceFaults>;
  logger: Logger;
  /** The keys a payment result may be signed with (any of them); config.orders.signingKeys. */
  signingKeys: readonly SigningKey[];
  /** Seconds since the epoch; tests pin it. */
  nowS?: () => number;
}

export interface OrderService {
  app: Express;
  faults(): OrderServiceFaults;
  setFaults(patch: Partial<OrderServiceFaults> & { outageForMs?: number }): OrderServiceFaults;
}

export function createOrderService(options: OrderServiceOptions): OrderService {
  const { db, logger } = options;
  const chance = new Chance(options.seed);
  let faults: OrderServiceFaults = orderServiceFaultsSchema.parse({
    errorRate: 0,
    latencyMs: 0,
    outageUntil: null,
    ...options.faults,
  });
  const attempts = new Map<string, number>();
  const signatures = { accepted: {} as Record<string, number>, refused: {} as Record<string, number> };
  const tally = (counts: Record<string, number>, name: string) => (counts[name] = (counts[name] ?? 0) + 1);
  const orders = () => db<OrderRow>(`${SCHEMA}.orders`);
  const transitions = () => db<TransitionRow>(`${SCHEMA}.order_transitions`);

  const setFaults: OrderService['setFaults'] = ({ outageForMs, ...patch }) => {
    const outageUntil = outageForMs !== undefined ? new Date(Date.now() + outageForMs).toISOString() : undefined;
    faults = orderServiceFaultsSchema.parse({ ...faults, ...patch, ...(outageUntil ? { outageUntil } : {}) });
    return faults;
  };

  const app = express();
  app.disable('x-powered-by');
  // The payment result is checked over the exact bytes that were signed: it takes its body raw, before the JSON
  // parser below sees it.
  app.post('/orders/:id/payment-result', express.raw({ type: () => true, limit: '64kb' }), (req, res, next) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const check = verifySignature(req.get(SIGNATURE_HEADER), raw, options.signingKeys, {
      nowS: (options.nowS ?? (() => Date.now() / 1000))(),
    });
    if (!check.ok) {
      // Nothing is recorded or changed for a request we cannot attribute to the payment service.
      tally(signatures.refused, check.problem);
      logger.warn({ orderId: req.params.id, problem: check.problem }, 'payment result refused: signature');
      res.status(401).json({ error: `signature_${check.problem}`, message: check.message });
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      res.status(400).json({ error: 'invalid_json' });
      return;
    }
    // The signed body names the order and the idempotency key: a genuine body replayed at another order, or under
    // another key, is not ours to apply.
    const named = body as { orderId?: unknown; idempotencyKey?: unknown } | null;
    if (named && typeof named === 'object') {
      if (named.orderId !== undefined && named.orderId !== req.params.id) {
        tally(signatures.refused, 'redirected');
        res.status(401).json({ error: 'signature_mismatch', message: 'the signed body names another order' });
        return;
      }
      const key = req.get('idempotency-key');
      if (named.idempotencyKey !== undefined && key !== undefined && named.idempotencyKey !== key) {
        tally(signatures.refused, 'redirected');
        res.status(401).json({ error: 'signature_mismatch', message: 'the signed body names another idempotency key' });
        return;
      }
    }
    tally(signatures.accepted, check.keyId);
    req.body = body;
    next();
  });
  app.use(express.json({ limit: '64kb' }));

  app.post('/orders', async (req, res) => {
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.')) });
      return;
    }
    const orderId = parsed.data.orderId ?? `ord_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const inserted = await orders()
      .insert({
        order_id: orderId,
        amount: parsed.data.amount,
        currency: parsed.data.currency,
        description: parsed.data.description ?? null,
      })
      .onConflict('order_id')
      .ignore()
      .returning('*');
    const order = inserted[0] ?? (await orders().where({ order_id: orderId }).first())!;
    if (order.amount !== parsed.data.amount || order.currency !== parsed.data.currency) {
      res.status(409).json({ error: 'order_exists_with_other_amount' });
      return;
    }
    res.status(inserted.length > 0 ? 201 : 200).json(orderView(order));
  });

  app.get('/orders', async (_req, res) => {
    const rows = await orders().orderBy('created_at');
    const all = await transitions().orderBy('id');
    res.json(
      rows.map((o) =>
        orderView(
          o,
          all.filter((t) => t.order_id === o.order_id),
        ),
      ),
    );
  });

  app.get('/orders/:id', async (req, res) => {
    const order = await orders().where({ order_id: req.params.id }).first();
    if (!order) {
      res.status(404).json({ error: 'order_not_found' });
      return;
    }
    res.json(orderView(order, await transitions().where({ order_id: req.params.id }).orderBy('id')));
  });

  app.post('/orders/:id/cancel', async (req, res) => {
    const updated = await orders()
      .where({ order_id: req.params.id, status: 'UNPAID' })
      .update({ status: 'CANCELLED', updated_at: db.fn.now() })
      .returning('*');
    const order = updated[0] ?? (await orders().where({ order_id: req.params.id }).first());
    if (!order) {
      res.status(404).json({ error: 'order_not_found' });
      return;
    }
    res.status(order.status === 'CANCELLED' ? 200 : 409).json(orderView(order));
  });

  app.post('/orders/:id/payment-result', async (req, res) => {
    const key = req.get('idempotency-key');
    if (!key) {
      res.status(400).json({ error: 'idempotency_key_required' });
      return;
    }
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (faults.outageUntil && Date.now() < Date.parse(faults.outageUntil)) {
      res.status(503).json({ error: 'outage' });
      return;
    }
    if (chance.happens(faults.errorRate, 'order-error', `${key}#${attempt}`)) {
      res.status(503).json({ error: 'injected_error' });
      return;
    }
    const parsed = resultSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.')) });
      return;
    }
    const ack = await db.transaction(async (trx) => {
      // Lock the order first: a concurrent duplicate waits here, then sees the first one's transition below.
      const order = await trx<OrderRow>(`${SCHEMA}.orders`).where({ order_id: req.params.id }).forUpdate().first();
      if (!order) return undefined;
      const done = await trx<TransitionRow>(`${SCHEMA}.order_transitions`).where({ idempotency_key: key }).first();
      if (done) {
        return { accepted: done.accepted, orderStatus: order.status, ...(done.reason ? { reason: done.reason } : {}) };
      }
      const { to, ack } = apply(order, parsed.data);
      if (to !== order.status) {
        await trx(`${SCHEMA}.orders`)
          .where({ order_id: order.order_id })
          .update({
            status: to,
            payment_id: parsed.data.paymentId,
            paid_at: to === 'PAID' ? trx.fn.now() : null,
            updated_at: trx.fn.now(),
          });
      }
      await trx(`${SCHEMA}.order_transitions`).insert({
        order_id: order.order_id,
        idempotency_key: key,
        payment_id: parsed.data.paymentId,
        payment_status: parsed.data.status,
        from_status: order.status,
        to_status: to,
        accepted: ack.accepted,
        reason: ack.reason ?? null,
      });
      return ack;
    });
    if (!ack) {
      res.status(404).json({ error: 'order_not_found' });
      return;
    }
    if (!ack.accepted) logger.warn({ orderId: req.params.id, reason: ack.reason }, 'payment result refused');
    res.json(ack);
  });

  app.get('/admin/signatures', (_req, res) => {
    res.json(signatures);
  });
  app.get('/admin/faults', (_req, res) => {
    res.json(faults);
  });
  app.put('/admin/faults', (req, res) => {
    const parsed = orderServiceFaultsSchema
      .partial()
      .extend({ outageForMs: z.number().int().min(0).optional() })
      .strict()
      .safeParse(req.body);
    if (!parsed.success) {
      res
        .status(400)
        .json({ error: 'invalid_faults', fields: parsed.error.issues.map((i) => i.path.join('.') || i.message) });
      return;
    }
    res.json(setFaults(parsed.data));
  });

  return { app, faults: () => faults, setFaults };
}
