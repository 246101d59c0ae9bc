// SandboxPay: a simulated third-party wallet channel, WeChat-Pay-like, our own simple protocol over the shared
// emulated wallet (sandbox/wallet.ts: payments, the buyer's page, fault injection).
//
// Merchant API (Authorization: Bearer <secret>), plus GET /v1/statement?from=&to= (payments paid in a window):
//   POST /v1/payments                 create (idempotent on merchantOrderId) -> channelPaymentId, payUrl
//   GET  /v1/payments/{id}            query; GET /v1/payments?merchantOrderId=... finds it by our id
//   POST /v1/payments/{id}/close      close an unpaid payment (answers the state it ended in)
//   POST /v1/payments/{id}/refund     refund a paid one (idempotent on refundKey); GET /v1/refunds/{refundId}
// Buyer: POST /v1/payments/{id}/pay|decline (also /wallet/{id}/pay|decline; a decline may say {reason}: one of the
//   wallet's DECLINE_REASONS, which the payment then carries as `reason`), and the wallet page GET /pay/{id}.
// Callbacks: POSTed to the payment's notifyUrl, signed: X-SandboxPay-Timestamp and
//   X-SandboxPay-Signature: v1=hex(HMAC-SHA256(secret, timestamp + "." + rawBody)); retried on non-2xx.
// Admin (no auth, sandbox only): GET/PUT /admin/faults, GET /admin/payments, POST /admin/payments/{id}/settle-late.
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import type { WalletStore } from './wallet-store';
import {
  type Emulator,
  createWallet,
  declineReason,
  type WalletFaults,
  type WalletPayment,
  walletFaultsSchema,
  walletView,
} from './wallet';

export { NO_FAULTS } from './wallet';
export const sandboxPayFaultsSchema = walletFaultsSchema;
export type SandboxPayFaults = WalletFaults;
export type ChannelPayment = WalletPayment;

/** WeChat Pay's notification retry schedule (seconds): 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h. */
export const CALLBACK_RETRY_SCHEDULE_S = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
];

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
  /** Keeps the wallet's payments across a restart (sandbox/wallet-store.ts); in memory without one. */
  store?: WalletStore;
}

export type SandboxPay = Emulator;

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

export function createSandboxPay(options: SandboxPayOptions): SandboxPay {
  const wallet = createWallet({
    title: 'SandboxPay',
    idPrefix: 'sp_',
    merchantId: options.merchantId,
    publicUrl: options.publicUrl,
    seed: options.seed,
    ...(options.faults ? { faults: options.faults } : {}),
    retryScheduleS: CALLBACK_RETRY_SCHEDULE_S,
    ...(options.callbackRetryScale !== undefined ? { callbackRetryScale: options.callbackRetryScale } : {}),
    ...(options.refundDelayMs !== undefined ? { refundDelayMs: options.refundDelayMs } : {}),
    logger: options.logger,
    ...(options.store ? { store: options.store } : {}),
    notification(p, eventId, kind) {
      const rawBody = JSON.stringify({
        eventId,
        eventType: kind === 'paid' ? 'payment.succeeded' : 'payment.failed',
        merchantId: p.merchantId,
        merchantOrderId: p.merchantOrderId,
        channelPaymentId: p.channelPaymentId,
        status: p.status,
        amount: p.amount,
        currency: p.currency,
        ...(p.paidAt ? { paidAt: p.paidAt } : {}),
        ...(p.reason ? { reason: p.reason } : {}),
        occurredAt: new Date().toISOString(),
      });
      return async () => {
        const timestamp = String(Math.floor(Date.now() / 1000));
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
        await res.arrayBuffer().catch(() => undefined);
        return { httpStatus: res.status, accepted: res.status >= 200 && res.status < 300 };
      };
    },
  });
  const payUrl = (p: ChannelPayment) => `${options.publicUrl}/pay/${p.channelPaymentId}`;

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

  /** A change is answered only once it is stored; when the store fails, the channel's system error (retry). */
  const stored = async (res: Response): Promise<boolean> => {
    try {
      await wallet.flush();
      return true;
    } catch {
      res.status(500).json({ error: 'system_error' });
      return false;
    }
  };

  const find = (req: Request, res: Response): ChannelPayment | undefined => {
    const p = wallet.find(String(req.params.id));
    if (!p) res.status(404).json({ error: 'payment_not_found' });
    return p;
  };

  app.post('/v1/payments', merchantAuth, async (req, res) => {
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.')) });
      return;
    }
    const created = wallet.create(parsed.data);
    if ('conflict' in created) {
      res.status(409).json({ error: 'merchant_order_conflict' });
      return;
    }
    if (created.created) await wallet.createLatency();
    if (!(await stored(res))) return;
    res.status(created.created ? 201 : 200).json({ ...walletView(created.payment), payUrl: payUrl(created.payment) });
  });

  app.get('/v1/payments', merchantAuth, async (req, res) => {
    const merchantOrderId = typeof req.query.merchantOrderId === 'string' ? req.query.merchantOrderId : '';
    if (!(await wallet.queryPasses(merchantOrderId))) {
      res.status(500).json({ error: 'system_error' });
      return;
    }
    const p = wallet.findByOrder(merchantOrderId);
    if (!p) {
      res.status(404).json({ error: 'payment_not_found' });
      return;
    }
    res.json(walletView(p));
  });

  app.get('/v1/payments/:id', merchantAuth, async (req, res) => {
    if (!(await wallet.queryPasses(String(req.params.id)))) {
      res.status(500).json({ error: 'system_error' });
      return;
    }
    const p = find(req, res);
    if (p) res.json(walletView(p));
  });

  app.post('/v1/payments/:id/close', merchantAuth, async (req, res) => {
    const p = find(req, res);
    if (!p) return;
    wallet.close(p);
    if (!(await stored(res))) return;
    res.json(walletView(p));
  });

  app.post('/v1/payments/:id/refund', merchantAuth, async (req, res) => {
    const p = find(req, res);
    if (!p) return;
    const parsed = refundSchema.safeParse(req.body);
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.')) });
      return;
    }
    const r = wallet.refund(p, parsed.data.refundKey, parsed.data.amount);
    if (!(await stored(res))) return;
    if (!r.ok) {
      res.status(409).json({ error: r.error, status: p.status });
      return;
    }
    res.status(r.created ? 201 : 200).json(r.refund);
  });

  app.get('/v1/refunds/:refundId', merchantAuth, (req, res) => {
    const found = wallet.findRefund(String(req.params.refundId));
    if (!found || found.refund.refundId !== req.params.refundId) {
      res.status(404).json({ error: 'refund_not_found' });
      return;
    }
    res.json({ ...found.refund, channelPaymentId: found.payment.channelPaymentId });
  });

  /** The merchant's statement: every payment paid in [from, to), with what was refunded of it. */
  app.get('/v1/statement', merchantAuth, (req, res) => {
    const from = Date.parse(String(req.query.from ?? ''));
    const to = Date.parse(String(req.query.to ?? ''));
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
      res.status(400).json({ error: 'invalid_range', fields: ['from', 'to'] });
      return;
    }
    const entries = wallet.paidBetween(from, to).map((p) => ({
      channelPaymentId: p.channelPaymentId,
      merchantOrderId: p.merchantOrderId,
      amount: p.amount,
      currency: p.currency,
      paidAt: p.paidAt!,
      refundedAmount: p.refunds.filter((r) => r.status === 'SUCCESS').reduce((sum, r) => sum + r.amount, 0),
    }));
    res.json({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), entries });
  });

  // The buyer, in the wallet app (SandboxPay's own paths for the wallet's /wallet/{id}/pay|decline).
  for (const action of ['pay', 'decline'] as const) {
    app.post(`/v1/payments/:id/${action}`, async (req, res) => {
      const p = find(req, res);
      if (!p) return;
      let r: ReturnType<typeof wallet.pay> | ReturnType<typeof wallet.decline>;
      if (action === 'pay') r = wallet.pay(p);
      else {
        const body = declineReason(req, res);
        if (!body) return;
        r = wallet.decline(p, body.reason);
      }
      if (!(await stored(res))) return;
      if (r.ok) res.json(walletView(p));
      else res.status(409).json({ error: r.error, status: p.status });
    });
  }
  app.use(wallet.router());

  return {
    app,
    wallet,
    payments: wallet.payments,
    faults: wallet.faults,
    setFaults: wallet.setFaults,
    stop: wallet.stop,
  };
}
