// SandboxPay: a simulated third-party wallet channel, WeChat-Pay-like, with fault injection. It is the kind of
// partner this service must survive: callbacks that get lost, duplicated, delayed or reordered; queries that fail
// or hang; payments stuck pending; a close that races with the buyer paying. Every fault decision is a
// deterministic function of the seed and the payment, so a run can be repeated.
//
// Merchant API (Authorization: Bearer <secret>), plus GET /v1/statement?from=&to= (payments paid in a window):
//   POST /v1/payments                 create (idempotent on merchantOrderId) -> channelPaymentId, payUrl
//   GET  /v1/payments/{id}            query; GET /v1/payments?merchantOrderId=... finds it by our id
//   POST /v1/payments/{id}/close      close an unpaid payment (answers the state it ended in)
//   POST /v1/payments/{id}/refund     refund a paid one (idempotent on refundKey); GET /v1/refunds/{refundId}
// Buyer: POST /v1/payments/{id}/pay, POST /v1/payments/{id}/decline, and the wallet page GET /pay/{id}.
// Callbacks: POSTed to the payment's notifyUrl, signed: X-SandboxPay-Timestamp and
//   X-SandboxPay-Signature: v1=hex(HMAC-SHA256(secret, timestamp + "." + rawBody)); retried on non-2xx.
// Admin (no auth, sandbox only): GET/PUT /admin/faults, GET /admin/payments, POST /admin/payments/{id}/settle-late.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { Chance } from './chance';

export const sandboxPayFaultsSchema = z.object({
  /** A notification is lost entirely: never delivered, never retried. */
  callbackDropRate: z.number().min(0).max(1),
  /** A notification is delivered twice. */
  callbackDuplicateRate: z.number().min(0).max(1),
  /** A notification is held back up to callbackDelayMaxMs (which also reorders notifications). */
  callbackDelayRate: z.number().min(0).max(1),
  callbackDelayMinMs: z.number().int().min(0),
  callbackDelayMaxMs: z.number().int().min(0),
  /** A query answers 500. */
  queryErrorRate: z.number().min(0).max(1),
  /** A query hangs for queryTimeoutMs before answering (past any sane client timeout). */
  queryTimeoutRate: z.number().min(0).max(1),
  queryTimeoutMs: z.number().int().min(0),
  /** Every query takes at least this long. */
  queryLatencyMs: z.number().int().min(0),
  /** The buyer's payment never completes: the payment stays USERPAYING until it is closed. */
  stuckPendingRate: z.number().min(0).max(1),
  /** A close arrives while the buyer is paying: the payment succeeds and the close reports SUCCESS. */
  closeRacePayRate: z.number().min(0).max(1),
  /** The answer to a create comes this late (the payment exists at the channel meanwhile). */
  createLatencyMs: z.number().int().min(0),
  /**
   * After reporting a payment CLOSED, the channel settles it as paid anyway (a buyer's payment that was in flight),
   * lateSettleDelayMs later, and notifies: the late success a merchant must catch and refund.
   */
  lateSettleRate: z.number().min(0).max(1),
  lateSettleDelayMs: z.number().int().min(0),
});
export type SandboxPayFaults = z.infer<typeof sandboxPayFaultsSchema>;

export const NO_FAULTS: SandboxPayFaults = {
  callbackDropRate: 0,
  callbackDuplicateRate: 0,
  callbackDelayRate: 0,
  callbackDelayMinMs: 0,
  callbackDelayMaxMs: 0,
  queryErrorRate: 0,
  queryTimeoutRate: 0,
  queryTimeoutMs: 30_000,
  queryLatencyMs: 0,
  stuckPendingRate: 0,
  closeRacePayRate: 0,
  createLatencyMs: 0,
  lateSettleRate: 0,
  lateSettleDelayMs: 3000,
};

/** WeChat Pay's notification retry schedule (seconds): 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h. */
export const CALLBACK_RETRY_SCHEDULE_S = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

export type ChannelStatus = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND';

export interface ChannelRefund {
  refundId: string;
  refundKey: string;
  amount: number;
  status: 'PROCESSING' | 'SUCCESS';
  createdAt: string;
}

export interface CallbackDelivery {
  eventId: string;
  attempt: number;
  /** HTTP status, or 0 for a network error / timeout. */
  httpStatus: number;
  at: string;
}

export interface ChannelPayment {
  channelPaymentId: string;
  merchantId: string;
  merchantOrderId: string;
  amount: number;
  currency: string;
  description?: string;
  notifyUrl: string;
  status: ChannelStatus;
  createdAt: string;
  paidAt?: string;
  closedAt?: string;
  refunds: ChannelRefund[];
  /** Every notification attempt, for tests and audits. */
  deliveries: CallbackDelivery[];
  /** Notifications the fault injector dropped. */
  droppedEvents: string[];
}

export interface SandboxPayOptions {
  merchantId: string;
  secret: string;
  /** Base URL buyers reach the wallet page on. */
  publicUrl: string;
  seed: string;
  faults?: Partial<SandboxPayFaults>;
  /** Multiplies the callback retry schedule (e.g. 0.01 in tests and chaos runs). */
  callbackRetryScale?: number;
  /** How long a refund stays PROCESSING. */
  refundDelayMs?: number;
  logger: Logger;
}

export interface SandboxPay {
  app: Express;
  payments: Map<string, ChannelPayment>;
  faults(): SandboxPayFaults;
  setFaults(patch: Partial<SandboxPayFaults>): SandboxPayFaults;
  /** Stops pending callback deliveries and timers. */
  stop(): void;
}

const createSchema = z.object({
  merchantOrderId: z.string().min(1).max(128),
  amount: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  description: z.string().max(256).optional(),
  notifyUrl: z.url(),
});

const refundSchema = z.object({ refundKey: z.string().min(1).max(128), amount: z.number().int().positive() });

export function signCallback(secret: string, timestamp: string, rawBody: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
}

function view(p: ChannelPayment) {
  return {
    channelPaymentId: p.channelPaymentId,
    merchantId: p.merchantId,
    merchantOrderId: p.merchantOrderId,
    amount: p.amount,
    currency: p.currency,
    status: p.status,
    createdAt: p.createdAt,
    ...(p.paidAt ? { paidAt: p.paidAt } : {}),
    ...(p.closedAt ? { closedAt: p.closedAt } : {}),
    refunds: p.refunds,
  };
}

function walletPage(p: ChannelPayment): string {
  const money = `${(p.amount / 100).toFixed(2)} ${p.currency}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>SandboxPay wallet</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d2733}
.card{border:1px solid #d8dee6;border-radius:12px;padding:1.5rem;box-shadow:0 2px 8px #0001}
h1{font-size:1.2rem;margin:0 0 1rem}.amount{font-size:2rem;font-weight:600;margin:.5rem 0 1.5rem}
button{font-size:1rem;padding:.7rem 1.2rem;border-radius:8px;border:0;cursor:pointer;margin-right:.5rem}
#pay{background:#07c160;color:#fff}#decline{background:#eef1f4;color:#1d2733}#result{margin-top:1rem;font-weight:600}</style>
</head><body><div class="card">
<h1>SandboxPay &middot; pay <span id="merchant">${p.merchantId}</span></h1>
<div>Order payment <code>${p.merchantOrderId}</code></div>
<div class="amount" id="amount">${money}</div>
<div id="status" data-status="${p.status}">Status: ${p.status}</div>
<p><button id="pay">Pay</button><button id="decline">Decline</button></p>
<div id="result"></div></div>
<script>
const id = ${JSON.stringify(p.channelPaymentId)};
const ret = new URLSearchParams(location.search).get('return');
async function act(kind) {
  document.querySelectorAll('button').forEach(b => b.disabled = true);
  const res = await fetch('/v1/payments/' + encodeURIComponent(id) + '/' + kind, { method: 'POST' });
  const body = await res.json().catch(() => ({}));
  document.getElementById('result').textContent = res.ok ? 'Wallet says: ' + body.status : 'Wallet error: ' + (body.error || res.status);
  document.getElementById('status').dataset.status = body.status || '';
  if (ret && res.ok) setTimeout(() => { location.href = ret; }, 600);
}
document.getElementById('pay').onclick = () => act('pay');
document.getElementById('decline').onclick = () => act('decline');
</script></body></html>`;
}

export function createSandboxPay(options: SandboxPayOptions): SandboxPay {
  const { logger } = options;
  const chance = new Chance(options.seed);
  const scale = options.callbackRetryScale ?? 1;
  let faults: SandboxPayFaults = sandboxPayFaultsSchema.parse({ ...NO_FAULTS, ...options.faults });
  const payments = new Map<string, ChannelPayment>();
  const byMerchantOrder = new Map<string, string>();
  const timers = new Set<NodeJS.Timeout>();
  const counters = new Map<string, number>();
  let stopped = false;

  /** Per-payment, per-kind counter: the Nth query of payment X gets the same fate under the same seed. */
  const nth = (kind: string, id: string) => {
    const key = `${kind}:${id}`;
    const n = (counters.get(key) ?? 0) + 1;
    counters.set(key, n);
    return `${id}#${n}`;
  };

  /**
   * What fault decisions are keyed on: the merchant's own order reference (the description) when it gave one, so a
   * seed gives the same orders the same faults across runs even though channel ids are random; else our id.
   */
  const identity = (p: ChannelPayment) => p.description ?? p.merchantOrderId;

  const later = (ms: number, fn: () => void) => {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  async function deliver(p: ChannelPayment, eventId: string, rawBody: string, attempt: number): Promise<void> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    let httpStatus = 0;
    try {
      const res = await fetch(p.notifyUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-sandboxpay-timestamp': timestamp,
          'x-sandboxpay-signature': signCallback(options.secret, timestamp, rawBody),
        },
        body: rawBody,
        signal: AbortSignal.timeout(5000),
      });
      httpStatus = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch {
      httpStatus = 0;
    }
    p.deliveries.push({ eventId, attempt, httpStatus, at: new Date().toISOString() });
    if (httpStatus >= 200 && httpStatus < 300) return;
    const waitS = CALLBACK_RETRY_SCHEDULE_S[attempt - 1];
    if (waitS === undefined) {
      logger.warn({ channelPaymentId: p.channelPaymentId, eventId, attempt }, 'callback retries exhausted');
      return;
    }
    later(waitS * 1000 * scale, () => void deliver(p, eventId, rawBody, attempt + 1));
  }

  /** A state change the merchant must hear about: the notification, subject to the callback faults. */
  function notify(p: ChannelPayment, eventType: 'payment.succeeded' | 'payment.failed'): void {
    const n = nth('event', p.channelPaymentId).split('#')[1];
    const eventId = `evt_${p.channelPaymentId}_${n}`;
    const faultKey = `${identity(p)}#${n}`;
    const rawBody = JSON.stringify({
      eventId,
      eventType,
      merchantId: p.merchantId,
      merchantOrderId: p.merchantOrderId,
      channelPaymentId: p.channelPaymentId,
      status: p.status,
      amount: p.amount,
      currency: p.currency,
      ...(p.paidAt ? { paidAt: p.paidAt } : {}),
      occurredAt: new Date().toISOString(),
    });
    if (chance.happens(faults.callbackDropRate, 'callback-drop', faultKey)) {
      p.droppedEvents.push(eventId);
      logger.debug({ channelPaymentId: p.channelPaymentId, eventId }, 'fault: callback dropped');
      return;
    }
    const delay = chance.happens(faults.callbackDelayRate, 'callback-delay', faultKey)
      ? chance.between(
          faults.callbackDelayMinMs,
          Math.max(faults.callbackDelayMinMs, faults.callbackDelayMaxMs),
          'callback-delay-ms',
          faultKey,
        )
      : 0;
    later(delay, () => void deliver(p, eventId, rawBody, 1));
    if (chance.happens(faults.callbackDuplicateRate, 'callback-duplicate', faultKey)) {
      const extra = chance.between(0, Math.max(faults.callbackDelayMaxMs, 200), 'callback-duplicate-ms', faultKey);
      later(delay + extra, () => void deliver(p, eventId, rawBody, 1));
    }
  }

  function settleSuccess(p: ChannelPayment): void {
    p.status = 'SUCCESS';
    p.paidAt = new Date().toISOString();
    notify(p, 'payment.succeeded');
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  const merchantAuth = (req: Request, res: Response, next: NextFunction) => {
    const given = Buffer.from(req.get('authorization') ?? '');
    const expected = Buffer.from(`Bearer ${options.secret}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.status(401).json({ error: 'unauthorized' });
      return;
    }
    next();
  };

  const find = (req: Request, res: Response): ChannelPayment | undefined => {
    const p = payments.get(String(req.params.id));
    if (!p) res.status(404).json({ error: 'payment_not_found' });
    return p;
  };

  app.post('/v1/payments', merchantAuth, async (req, res) => {
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.')) });
      return;
    }
    const body = parsed.data;
    const existingId = byMerchantOrder.get(body.merchantOrderId);
    if (existingId) {
      const existing = payments.get(existingId)!;
      if (existing.amount !== body.amount || existing.currency !== body.currency) {
        res.status(409).json({ error: 'merchant_order_conflict' });
        return;
      }
      res.status(200).json({ ...view(existing), payUrl: `${options.publicUrl}/pay/${existing.channelPaymentId}` });
      return;
    }
    const p: ChannelPayment = {
      channelPaymentId: `sp_${randomUUID().replace(/-/g, '')}`,
      merchantId: options.merchantId,
      merchantOrderId: body.merchantOrderId,
      amount: body.amount,
      currency: body.currency,
      ...(body.description ? { description: body.description } : {}),
      notifyUrl: body.notifyUrl,
      status: 'NOTPAY',
      createdAt: new Date().toISOString(),
      refunds: [],
      deliveries: [],
      droppedEvents: [],
    };
    payments.set(p.channelPaymentId, p);
    byMerchantOrder.set(p.merchantOrderId, p.channelPaymentId);
    if (faults.createLatencyMs > 0) await new Promise((r) => setTimeout(r, faults.createLatencyMs));
    res.status(201).json({ ...view(p), payUrl: `${options.publicUrl}/pay/${p.channelPaymentId}` });
  });

  /** Query faults: latency, errors, hangs. */
  const queryFaults = async (id: string, res: Response): Promise<boolean> => {
    const p = payments.get(id) ?? payments.get(byMerchantOrder.get(id) ?? '');
    const key = nth('query', p ? identity(p) : id);
    if (faults.queryLatencyMs > 0) await new Promise((r) => setTimeout(r, faults.queryLatencyMs));
    if (chance.happens(faults.queryTimeoutRate, 'query-timeout', key)) {
      await new Promise((r) => setTimeout(r, faults.queryTimeoutMs));
    }
    if (chance.happens(faults.queryErrorRate, 'query-error', key)) {
      res.status(500).json({ error: 'system_error' });
      return false;
    }
    return true;
  };

  app.get('/v1/payments', merchantAuth, async (req, res) => {
    const merchantOrderId = typeof req.query.merchantOrderId === 'string' ? req.query.merchantOrderId : '';
    const id = byMerchantOrder.get(merchantOrderId);
    if (!(await queryFaults(id ?? merchantOrderId, res))) return;
    const p = id ? payments.get(id) : undefined;
    if (!p) {
      res.status(404).json({ error: 'payment_not_found' });
      return;
    }
    res.json(view(p));
  });

  app.get('/v1/payments/:id', merchantAuth, async (req, res) => {
    if (!(await queryFaults(String(req.params.id), res))) return;
    const p = find(req, res);
    if (p) res.json(view(p));
  });

  app.post('/v1/payments/:id/close', merchantAuth, (req, res) => {
    const p = find(req, res);
    if (!p) return;
    if (p.status === 'NOTPAY' || p.status === 'USERPAYING') {
      if (chance.happens(faults.closeRacePayRate, 'close-race', identity(p))) {
        logger.debug({ channelPaymentId: p.channelPaymentId }, 'fault: the buyer paid just before the close');
        settleSuccess(p);
      } else {
        p.status = 'CLOSED';
        p.closedAt = new Date().toISOString();
        if (chance.happens(faults.lateSettleRate, 'late-settle', identity(p))) {
          logger.debug({ channelPaymentId: p.channelPaymentId }, 'fault: the channel will settle this closed payment');
          later(faults.lateSettleDelayMs, () => settleSuccess(p));
        }
      }
    }
    res.json(view(p));
  });

  app.post('/v1/payments/:id/refund', merchantAuth, (req, res) => {
    const p = find(req, res);
    if (!p) return;
    const parsed = refundSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.')) });
      return;
    }
    const existing = p.refunds.find((r) => r.refundKey === parsed.data.refundKey);
    if (existing) {
      res.json(existing);
      return;
    }
    if (p.status !== 'SUCCESS' && p.status !== 'REFUND') {
      res.status(409).json({ error: 'payment_not_paid', status: p.status });
      return;
    }
    const refunded = p.refunds.reduce((sum, r) => sum + r.amount, 0);
    if (refunded + parsed.data.amount > p.amount) {
      res.status(409).json({ error: 'refund_exceeds_payment' });
      return;
    }
    const refund: ChannelRefund = {
      refundId: `rf_${randomUUID().replace(/-/g, '')}`,
      refundKey: parsed.data.refundKey,
      amount: parsed.data.amount,
      status: 'PROCESSING',
      createdAt: new Date().toISOString(),
    };
    p.refunds.push(refund);
    later(options.refundDelayMs ?? 2000, () => {
      refund.status = 'SUCCESS';
      if (p.refunds.reduce((sum, r) => sum + r.amount, 0) >= p.amount) p.status = 'REFUND';
    });
    res.status(201).json(refund);
  });

  app.get('/v1/refunds/:refundId', merchantAuth, (req, res) => {
    for (const p of payments.values()) {
      const refund = p.refunds.find((r) => r.refundId === req.params.refundId);
      if (refund) {
        res.json({ ...refund, channelPaymentId: p.channelPaymentId });
        return;
      }
    }
    res.status(404).json({ error: 'refund_not_found' });
  });

  /** The merchant's statement: every payment paid in [from, to), with what was refunded of it. */
  app.get('/v1/statement', merchantAuth, (req, res) => {
    const from = Date.parse(String(req.query.from ?? ''));
    const to = Date.parse(String(req.query.to ?? ''));
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
      res.status(400).json({ error: 'invalid_range', fields: ['from', 'to'] });
      return;
    }
    const entries = [...payments.values()]
      .filter((p) => p.paidAt && Date.parse(p.paidAt) >= from && Date.parse(p.paidAt) < to)
      .map((p) => ({
        channelPaymentId: p.channelPaymentId,
        merchantOrderId: p.merchantOrderId,
        amount: p.amount,
        currency: p.currency,
        paidAt: p.paidAt!,
        refundedAmount: p.refunds.filter((r) => r.status === 'SUCCESS').reduce((sum, r) => sum + r.amount, 0),
      }));
    res.json({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), entries });
  });

  // The buyer, in the wallet app.
  app.post('/v1/payments/:id/pay', (req, res) => {
    const p = find(req, res);
    if (!p) return;
    if (p.status === 'NOTPAY') {
      if (chance.happens(faults.stuckPendingRate, 'stuck', identity(p))) {
        p.status = 'USERPAYING';
        logger.debug({ channelPaymentId: p.channelPaymentId }, 'fault: payment stuck pending');
      } else {
        settleSuccess(p);
      }
    } else if (p.status === 'CLOSED' || p.status === 'PAYERROR') {
      res.status(409).json({ error: p.status === 'CLOSED' ? 'payment_closed' : 'payment_failed', status: p.status });
      return;
    }
    res.json(view(p));
  });

  app.post('/v1/payments/:id/decline', (req, res) => {
    const p = find(req, res);
    if (!p) return;
    if (p.status === 'NOTPAY' || p.status === 'USERPAYING') {
      p.status = 'PAYERROR';
      notify(p, 'payment.failed');
    } else if (p.status !== 'PAYERROR') {
      res.status(409).json({ error: 'payment_not_pending', status: p.status });
      return;
    }
    res.json(view(p));
  });

  app.get('/pay/:id', (req, res) => {
    const p = payments.get(String(req.params.id));
    if (!p) {
      res.status(404).type('text/plain').send('no such payment');
      return;
    }
    res.type('html').send(walletPage(p));
  });

  // Sandbox administration: fault injection and inspection.
  app.get('/admin/faults', (_req, res) => {
    res.json(faults);
  });
  app.put('/admin/faults', (req, res) => {
    const parsed = sandboxPayFaultsSchema.partial().strict().safeParse(req.body);
    if (!parsed.success) {
      res
        .status(400)
        .json({ error: 'invalid_faults', fields: parsed.error.issues.map((i) => i.path.join('.') || i.message) });
      return;
    }
    faults = { ...faults, ...parsed.data };
    res.json(faults);
  });
  app.get('/admin/payments', (_req, res) => {
    res.json(
      [...payments.values()].map((p) => ({ ...view(p), deliveries: p.deliveries, droppedEvents: p.droppedEvents })),
    );
  });
  /** Simulates the channel settling a payment as paid after it was closed (the anomaly a merchant must catch). */
  app.post('/admin/payments/:id/settle-late', (req, res) => {
    const p = find(req, res);
    if (!p) return;
    settleSuccess(p);
    res.json(view(p));
  });

  return {
    app,
    payments,
    faults: () => faults,
    setFaults(patch) {
      faults = sandboxPayFaultsSchema.parse({ ...faults, ...patch });
      return faults;
    },
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
