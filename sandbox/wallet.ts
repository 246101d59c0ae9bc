// The wallet every emulated channel shares: its payments and refunds, the buyer's side (a page to pay or decline),
// and fault injection (callbacks lost, duplicated, delayed or reordered; queries that fail or hang; payments stuck
// pending; a close that races with the buyer paying; a closed payment settled late). Each channel emulator
// (SandboxPay, WeChat Pay, Alipay) puts its own wire protocol on top: its routes, signatures, status words, error
// codes and notification format. Every fault decision is a deterministic function of the seed and the payment, so a
// run can be repeated.
//
// Routes of the wallet itself (no merchant auth: sandbox only), mounted by each emulator:
//   GET  /pay/{id}                  the wallet page (pay or decline)
//   POST /wallet/{id}/pay|decline   the buyer's actions
//   GET/PUT /admin/faults, GET /admin/payments, POST /admin/payments/{id}/settle-late
import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../observability/logger';
import { formatMoney } from '../workflows/money';
import { Chance } from './chance';
import type { StoredPayment, WalletNotice, WalletStore } from './wallet-store';

export const walletFaultsSchema = z.object({
  /** A notification is lost entirely: never delivered, never retried. */
  callbackDropRate: z.number().min(0).max(1),
  /** A notification is delivered twice. */
  callbackDuplicateRate: z.number().min(0).max(1),
  /** A notification is held back up to callbackDelayMaxMs (which also reorders notifications). */
  callbackDelayRate: z.number().min(0).max(1),
  callbackDelayMinMs: z.number().int().min(0),
  callbackDelayMaxMs: z.number().int().min(0),
  /** A query answers the channel's system error. */
  queryErrorRate: z.number().min(0).max(1),
  /** A query hangs for queryTimeoutMs before answering (past any sane client timeout). */
  queryTimeoutRate: z.number().min(0).max(1),
  queryTimeoutMs: z.number().int().min(0),
  /** Every query takes at least this long. */
  queryLatencyMs: z.number().int().min(0),
  /** The buyer's payment never completes: the payment stays USERPAYING until it is closed. */
  stuckPendingRate: z.number().min(0).max(1),
  /** A close arrives while the buyer is paying: the payment succeeds and the close reports it paid. */
  closeRacePayRate: z.number().min(0).max(1),
  /** The answer to a create comes this late (the payment exists at the channel meanwhile). */
  createLatencyMs: z.number().int().min(0),
  /**
   * After reporting a payment closed, the channel settles it as paid anyway (a buyer's payment that was in flight),
   * lateSettleDelayMs later, and notifies: the late success a merchant must catch and refund.
   */
  lateSettleRate: z.number().min(0).max(1),
  lateSettleDelayMs: z.number().int().min(0),
});
export type WalletFaults = z.infer<typeof walletFaultsSchema>;

export const NO_FAULTS: WalletFaults = {
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

/**
 * What becomes of one notification under the callback faults, decided by the seed and its key: lost, or delivered
 * after `delayMs` (which also reorders), and perhaps a second time `duplicateAfterMs` after that. The wallet and the
 * Stripe fault proxy decide alike.
 */
export function notificationFate(
  chance: Chance,
  faults: Pick<
    WalletFaults,
    'callbackDropRate' | 'callbackDelayRate' | 'callbackDelayMinMs' | 'callbackDelayMaxMs' | 'callbackDuplicateRate'
  >,
  key: string,
): { drop: true } | { drop: false; delayMs: number; duplicateAfterMs?: number } {
  if (chance.happens(faults.callbackDropRate, 'callback-drop', key)) return { drop: true };
  const delayMs = chance.happens(faults.callbackDelayRate, 'callback-delay', key)
    ? chance.between(
        faults.callbackDelayMinMs,
        Math.max(faults.callbackDelayMinMs, faults.callbackDelayMaxMs),
        'callback-delay-ms',
        key,
      )
    : 0;
  if (!chance.happens(faults.callbackDuplicateRate, 'callback-duplicate', key)) return { drop: false, delayMs };
  const duplicateAfterMs = chance.between(0, Math.max(faults.callbackDelayMaxMs, 200), 'callback-duplicate-ms', key);
  return { drop: false, delayMs, duplicateAfterMs };
}

/** The wallet's own status words (WeChat Pay's); each protocol maps them to its own. */
export type WalletStatus = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND';

export interface WalletRefund {
  refundId: string;
  refundKey: string;
  amount: number;
  status: 'PROCESSING' | 'SUCCESS';
  createdAt: string;
  succeededAt?: string;
}

export interface CallbackDelivery {
  eventId: string;
  attempt: number;
  /** HTTP status, or 0 for a network error / timeout. */
  httpStatus: number;
  /** Did the merchant accept it, by the protocol's rule (2xx; Alipay: the body `success`)? */
  accepted: boolean;
  at: string;
}

export interface WalletPayment {
  channelPaymentId: string;
  merchantId: string;
  /** The merchant's reference for the payment (SandboxPay merchantOrderId, WeChat/Alipay out_trade_no). */
  merchantOrderId: string;
  amount: number;
  currency: string;
  description?: string;
  notifyUrl: string;
  status: WalletStatus;
  createdAt: string;
  paidAt?: string;
  closedAt?: string;
  /** Why the payment failed (the buyer's decline: "insufficient funds"), in words each protocol carries its way. */
  reason?: string;
  refunds: WalletRefund[];
  /** Protocol-specific fields the emulator keeps (app id, the buyer's id, ...). */
  extra: Record<string, string>;
  /** Every notification attempt, for tests and audits. */
  deliveries: CallbackDelivery[];
  /** Notifications the fault injector dropped. */
  droppedEvents: string[];
}

export type NotificationKind = 'paid' | 'failed';

/** One attempt at delivering a notification; the protocol signs it afresh each time. */
export type NotificationAttempt = () => Promise<{ httpStatus: number; accepted: boolean }>;

/** Why a buyer's payment can fail, as the wallet page offers them (the first is the default). */
export const DECLINE_REASONS = ['insufficient funds', 'declined by the buyer', 'card expired'] as const;
export type DeclineReason = (typeof DECLINE_REASONS)[number];

/** The name the sandbox's one merchant is registered under: what its buyers see on the wallet page. */
export const DEMO_MERCHANT_NAME = 'Demo tea shop';

export interface WalletOptions {
  /** Shown on the wallet page, e.g. "WeChat Pay (emulator)". */
  title: string;
  /** The merchant's registered name, shown to the buyer (default DEMO_MERCHANT_NAME). */
  merchantName?: string;
  /** Prefix of the channel's payment ids. */
  idPrefix: string;
  /** Makes a channel payment id (default: idPrefix + 32 hex digits). */
  newId?: () => string;
  merchantId: string;
  /** Base URL buyers reach the wallet page on. */
  publicUrl: string;
  seed: string;
  faults?: Partial<WalletFaults>;
  /** Seconds between notification attempts after a failed one (the channel's published schedule). */
  retryScheduleS: readonly number[];
  /** Multiplies the retry schedule (e.g. 0.01 in tests and chaos runs). */
  callbackRetryScale?: number;
  /** How long a refund stays PROCESSING. */
  refundDelayMs?: number;
  /** The protocol's notification of the payment's current state, as an attempt it can repeat. */
  notification(p: WalletPayment, eventId: string, kind: NotificationKind): NotificationAttempt;
  logger: Logger;
  /**
   * Where the wallet keeps its payments across a restart (sandbox/wallet-store.ts): loaded at creation, written
   * through on every change. Without one the wallet lives in memory only (unit tests).
   */
  store?: WalletStore;
}

/** What every emulator over the wallet offers its host (sandbox/main.ts, the tests): the app and the wallet's controls. */
export interface Emulator {
  app: Express;
  wallet: Wallet;
  payments: Map<string, WalletPayment>;
  faults(): WalletFaults;
  setFaults(patch: Partial<WalletFaults>): WalletFaults;
  /** Stops pending notifications and timers. */
  stop(): void;
}

export interface NewWalletPayment {
  merchantOrderId: string;
  amount: number;
  currency: string;
  description?: string;
  notifyUrl: string;
  extra?: Record<string, string>;
}

export type RefundResult =
  | { ok: true; refund: WalletRefund; created: boolean }
  | { ok: false; error: 'payment_not_paid' | 'refund_exceeds_payment' | 'refund_key_conflict' };

export interface Wallet {
  readonly payments: Map<string, WalletPayment>;
  faults(): WalletFaults;
  setFaults(patch: Partial<WalletFaults>): WalletFaults;
  /** Creates a payment, or finds the one with the same merchantOrderId (`conflict` if amount or currency differ). */
  create(input: NewWalletPayment): { payment: WalletPayment; created: boolean } | { conflict: WalletPayment };
  /** Waits out the create latency fault (the payment already exists). */
  createLatency(): Promise<void>;
  find(channelPaymentId: string): WalletPayment | undefined;
  findByOrder(merchantOrderId: string): WalletPayment | undefined;
  /**
   * The query faults for one query of this payment (by channel id or merchant reference): waits out the latency or
   * hang, and answers false when this query must fail with the channel's system error.
   */
  queryPasses(idOrOrder: string): Promise<boolean>;
  /** Closes an unpaid payment (subject to the close-race and late-settle faults); a paid one is left as it is. */
  close(p: WalletPayment): void;
  /** The buyer pays (subject to the stuck-pending fault). Refused for a closed or failed payment. */
  pay(p: WalletPayment): { ok: true } | { ok: false; error: 'payment_closed' | 'payment_failed' };
  /** The buyer's payment fails (PAYERROR, with why), notified. Refused once the payment is no longer pending. */
  decline(p: WalletPayment, reason?: DeclineReason): { ok: true } | { ok: false; error: 'payment_not_pending' };
  /** Refunds part or all of a paid payment, idempotent on refundKey. */
  refund(p: WalletPayment, refundKey: string, amount: number): RefundResult;
  findRefund(refundIdOrKey: string): { payment: WalletPayment; refund: WalletRefund } | undefined;
  /** Payments paid in [from, to). */
  paidBetween(from: number, to: number): WalletPayment[];
  /** Settles a payment as paid now and notifies (the late success after a close). */
  settle(p: WalletPayment): void;
  /** The wallet page, the buyer's actions and the sandbox admin routes. */
  router(): Router;
  /** Runs `fn` after `ms` unless the wallet is stopped first (a protocol's own timers: refund notices, links). */
  later(ms: number, fn: () => void): void;
  /**
   * The emulator changed this payment itself (a field of `extra`, a delivery of its own): the wallet stores it. Every
   * change the wallet makes is stored without this.
   */
  changed(p: WalletPayment): void;
  /**
   * Resolves once every change made so far is stored (at once without a store); rejects when the store failed. An
   * emulator awaits it before answering a request that changed something, so an answered request survives a crash.
   */
  flush(): Promise<void>;
  /** Stops pending notification deliveries and timers. */
  stop(): void;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The wallet's statuses, as the buyer reads them. */
const STATUS_WORDS: Record<WalletStatus, string> = {
  NOTPAY: 'Waiting for you to pay',
  USERPAYING: 'Payment in progress',
  SUCCESS: 'Paid',
  CLOSED: 'This payment has closed',
  PAYERROR: 'Payment failed',
  REFUND: 'Refunded',
};

/** The buyer's page: who is paid, for what, how much; Pay, or (to try the shop's decline path) a failed payment. */
function walletPage(title: string, merchantName: string, p: WalletPayment): string {
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
  const open = p.status === 'NOTPAY' || p.status === 'USERPAYING';
  const failure = p.reason ? `: ${p.reason}` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d2733}
.card{border:1px solid #d8dee6;border-radius:12px;padding:1.5rem;box-shadow:0 2px 8px #0001}
.wallet{font-size:.85rem;color:#57606a;margin:0 0 1rem}h1{font-size:1.25rem;margin:0}
.item{color:#57606a;margin:.2rem 0 0}.amount{font-size:2rem;font-weight:600;margin:.8rem 0 1rem}
button{font-size:1rem;padding:.7rem 1.2rem;border-radius:8px;border:0;cursor:pointer;margin-right:.5rem}
button:disabled{opacity:.5;cursor:default}#pay{background:#07c160;color:#fff}#decline{background:#eef1f4;color:#1d2733}
#status{font-weight:600}.ended{color:#cf222e}.paid{color:#1a7f37}
details{margin-top:1rem;font-size:.9rem;color:#57606a}select{font-size:.9rem;margin:.4rem .4rem .4rem 0}</style>
</head><body><div class="card">
<p class="wallet">${escapeHtml(title)}</p>
<h1 id="merchant">${escapeHtml(merchantName)}</h1>
${p.description ? `<p class="item" id="item">${escapeHtml(p.description)}</p>` : ''}
<div class="amount" id="amount">${escapeHtml(formatMoney(p.amount, p.currency))}</div>
<p id="status" data-status="${p.status}" class="${p.status === 'SUCCESS' ? 'paid' : open ? '' : 'ended'}">${escapeHtml(STATUS_WORDS[p.status] + (p.status === 'PAYERROR' ? failure : ''))}</p>
${
  open
    ? `<p><button id="pay">Pay</button></p>
<details><summary>Test a failed payment</summary>
<label>Why it fails <select id="decline-reason">${DECLINE_REASONS.map((r) => `<option>${escapeHtml(r)}</option>`).join('')}</select></label>
<button id="decline">Fail the payment</button></details>`
    : ''
}
</div>
<script>
const id = ${json(p.channelPaymentId)};
const words = ${json(STATUS_WORDS)};
const ret = new URLSearchParams(location.search).get('return');
async function act(kind) {
  document.querySelectorAll('button').forEach(b => b.disabled = true);
  const reason = kind === 'decline' ? document.getElementById('decline-reason').value : undefined;
  const res = await fetch('/wallet/' + encodeURIComponent(id) + '/' + kind, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(reason ? { reason } : {}) });
  const body = await res.json().catch(() => ({}));
  const el = document.getElementById('status');
  const back = ret && /^https?:\\/\\//.test(ret) ? ' Taking you back to the shop…' : '';
  if (body.status) {
    el.textContent = (words[body.status] || body.status) + (body.status === 'PAYERROR' && body.reason ? ': ' + body.reason : '') + '.' + back;
    el.dataset.status = body.status;
    el.className = body.status === 'SUCCESS' ? 'paid' : body.status === 'NOTPAY' || body.status === 'USERPAYING' ? '' : 'ended';
  } else {
    el.textContent = 'The wallet could not do that just now; try again.';
    document.querySelectorAll('button').forEach(b => b.disabled = false);
  }
  if (back && body.status) setTimeout(() => { location.href = ret; }, 900);
}
document.getElementById('pay')?.addEventListener('click', () => act('pay'));
document.getElementById('decline')?.addEventListener('click', () => act('decline'));
</script></body></html>`;
}

/** What the sandbox admin routes and the buyer see of a payment. */
export function walletView(p: WalletPayment) {
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
    ...(p.reason ? { reason: p.reason } : {}),
    refunds: p.refunds,
  };
}

/** The buyer's decline, as the wallet page and SandboxPay's own route send it: {reason} (optional). */
export const declineBody = z.object({ reason: z.enum(DECLINE_REASONS).optional() }).strict();

/**
 * Reads the decline's body; answers 400 naming the field (and false) when it is not one of DECLINE_REASONS.
 */
export function declineReason(req: Request, res: Response): { reason?: DeclineReason } | false {
  const parsed = declineBody.safeParse(req.body ?? {});
  if (parsed.success) return parsed.data;
  res
    .status(400)
    .json({ error: 'invalid_request', fields: parsed.error.issues.map((i) => i.path.join('.') || 'body') });
  return false;
}

export function createWallet(options: WalletOptions): Wallet {
  const { logger } = options;
  const chance = new Chance(options.seed);
  const scale = options.callbackRetryScale ?? 1;
  let faults: WalletFaults = walletFaultsSchema.parse({ ...NO_FAULTS, ...options.faults });
  const payments = new Map<string, WalletPayment>();
  const byMerchantOrder = new Map<string, string>();
  const timers = new Set<NodeJS.Timeout>();
  const counters = new Map<string, number>();
  const newId = options.newId ?? (() => `${options.idPrefix}${randomUUID().replace(/-/g, '')}`);
  let stopped = false;
  const { store } = options;
  /** Each payment's notification events, in order: what a restart resumes (kept beside the payment, stored with it). */
  const notices = new Map<string, WalletNotice[]>();
  /** Payments the late-settle fault will settle, and when (ISO). */
  const settleDue = new Map<string, string>();
  /** Payments changed since they were last stored, and the write in progress (one at a time, in order). */
  const dirty = new Set<string>();
  let writing: Promise<void> = Promise.resolve();
  let retrying = false;

  /** Per-payment, per-kind counter: the Nth query of payment X gets the same fate under the same seed. */
  const nth = (kind: string, id: string) => {
    const key = `${kind}:${id}`;
    const n = (counters.get(key) ?? 0) + 1;
    counters.set(key, n);
    return n;
  };

  /**
   * What fault decisions are keyed on: the merchant's own order reference (the description) when it gave one, so a
   * seed gives the same orders the same faults across runs even though channel ids are random; else its reference.
   */
  const identity = (p: WalletPayment) => p.description ?? p.merchantOrderId;

  const later = (ms: number, fn: () => void) => {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    timers.add(t);
  };

  // ---- storage: write-through to the store, one write at a time ------------------------------------------------

  const snapshot = (p: WalletPayment): StoredPayment => {
    const settleDueAt = settleDue.get(p.channelPaymentId);
    return { ...p, ...(settleDueAt ? { settleDueAt } : {}), notices: notices.get(p.channelPaymentId) ?? [] };
  };

  /** Writes every changed payment, after the write before it; a failed write leaves its payments to the next. */
  function flush(): Promise<void> {
    if (!store) return Promise.resolve();
    const run = writing
      .catch(() => undefined)
      .then(async () => {
        if (dirty.size === 0) return;
        const ids = [...dirty];
        dirty.clear();
        try {
          await store.save(ids.map((id) => snapshot(payments.get(id)!)));
        } catch (err) {
          for (const id of ids) dirty.add(id);
          throw err;
        }
      });
    writing = run;
    return run;
  }

  function changed(p: WalletPayment): void {
    if (!store || stopped) return;
    dirty.add(p.channelPaymentId);
    flush().catch((err: unknown) => {
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'wallet: storing a change failed');
      if (retrying) return;
      retrying = true;
      later(1000, () => {
        retrying = false;
        if (dirty.size > 0) changed(payments.get([...dirty][0]!)!);
      });
    });
  }

  /** For the wallet's own routes: true once the change is stored; else answers 503 (the buyer may try again). */
  async function storedOr503(res: Response): Promise<boolean> {
    try {
      await flush();
      return true;
    } catch {
      res.status(503).json({ error: 'wallet_unavailable' });
      return false;
    }
  }

  // ---- notifications: each event's delivery state is stored, so a restart resumes its retries ------------------

  async function deliver(
    p: WalletPayment,
    eventId: string,
    attempt: NotificationAttempt,
    n: number,
    /** The event's record; absent for the duplicate-callback fault's extra copy, which is not resumed. */
    notice?: WalletNotice,
  ): Promise<void> {
    // Never tell the merchant of a change the wallet has not stored: a restart in between would forget a payment the
    // merchant was told was paid. A store that is down delays the notification, like any failed attempt.
    try {
      await flush();
    } catch {
      later(1000, () => void deliver(p, eventId, attempt, n, notice));
      return;
    }
    let outcome = { httpStatus: 0, accepted: false };
    try {
      outcome = await attempt();
    } catch {
      // a network error or timeout: retried like a refusal
    }
    p.deliveries.push({ eventId, attempt: n, ...outcome, at: new Date().toISOString() });
    const waitS = options.retryScheduleS[n - 1];
    if (notice && notice.state === 'pending') {
      if (outcome.accepted || waitS === undefined) {
        notice.state = outcome.accepted ? 'accepted' : 'exhausted';
        delete notice.dueAt;
      } else {
        notice.nextAttempt = n + 1;
        notice.dueAt = new Date(Date.now() + waitS * 1000 * scale).toISOString();
      }
    }
    changed(p);
    if (outcome.accepted) return;
    if (waitS === undefined) {
      logger.warn({ channelPaymentId: p.channelPaymentId, eventId, attempt: n }, 'callback retries exhausted');
      return;
    }
    later(waitS * 1000 * scale, () => void deliver(p, eventId, attempt, n + 1, notice));
  }

  /** A state change the merchant must hear about: the notification, subject to the callback faults. */
  function notify(p: WalletPayment, kind: NotificationKind): void {
    const n = nth('event', p.channelPaymentId);
    const eventId = `evt_${p.channelPaymentId}_${n}`;
    const faultKey = `${identity(p)}#${n}`;
    const attempt = options.notification(p, eventId, kind);
    const fate = notificationFate(chance, faults, faultKey);
    const events = notices.get(p.channelPaymentId) ?? [];
    notices.set(p.channelPaymentId, events);
    if (fate.drop) {
      p.droppedEvents.push(eventId);
      events.push({ eventId, kind, state: 'dropped', nextAttempt: 1 });
      changed(p);
      logger.debug({ channelPaymentId: p.channelPaymentId, eventId }, 'fault: callback dropped');
      return;
    }
    const dueAt = new Date(Date.now() + fate.delayMs).toISOString();
    const notice: WalletNotice = { eventId, kind, state: 'pending', nextAttempt: 1, dueAt };
    events.push(notice);
    changed(p);
    later(fate.delayMs, () => void deliver(p, eventId, attempt, 1, notice));
    if (fate.duplicateAfterMs !== undefined) {
      later(fate.delayMs + fate.duplicateAfterMs, () => void deliver(p, eventId, attempt, 1));
    }
  }

  function settle(p: WalletPayment): void {
    settleDue.delete(p.channelPaymentId);
    p.status = 'SUCCESS';
    p.paidAt = new Date().toISOString();
    notify(p, 'paid');
  }

  /** The late-settle fault's settlement, `ms` from now, unless the payment was settled meanwhile. */
  function settleLater(p: WalletPayment, ms: number): void {
    later(ms, () => {
      if (settleDue.has(p.channelPaymentId)) settle(p);
    });
  }

  /** A refund goes through `ms` from now. */
  function completeRefundLater(p: WalletPayment, refund: WalletRefund, ms: number): void {
    later(ms, () => {
      refund.status = 'SUCCESS';
      refund.succeededAt = new Date().toISOString();
      if (p.refunds.reduce((sum, r) => sum + r.amount, 0) >= p.amount) p.status = 'REFUND';
      changed(p);
    });
  }

  // ---- a restart: the stored payments back in memory, and what their timers were waiting for rescheduled -------

  const until = (at: string | number) => Math.max(0, new Date(at).getTime() - Date.now());
  for (const stored of store?.loaded ?? []) {
    const { notices: events, settleDueAt, ...fields } = stored;
    const p: WalletPayment = {
      ...fields,
      droppedEvents: events.filter((e) => e.state === 'dropped').map((e) => e.eventId),
    };
    payments.set(p.channelPaymentId, p);
    byMerchantOrder.set(p.merchantOrderId, p.channelPaymentId);
    notices.set(p.channelPaymentId, events);
    // Event ids count on from the stored events (a merchant deduplicates on them).
    counters.set(`event:${p.channelPaymentId}`, events.length);
    for (const notice of events) {
      if (notice.state !== 'pending') continue;
      later(until(notice.dueAt ?? p.createdAt), () => {
        const attempt = options.notification(p, notice.eventId, notice.kind);
        void deliver(p, notice.eventId, attempt, notice.nextAttempt, notice);
      });
    }
    const refundDelayMs = options.refundDelayMs ?? 2000;
    for (const r of p.refunds) {
      if (r.status === 'PROCESSING') completeRefundLater(p, r, until(Date.parse(r.createdAt) + refundDelayMs));
    }
    if (settleDueAt) {
      settleDue.set(p.channelPaymentId, settleDueAt);
      settleLater(p, until(settleDueAt));
    }
  }

  const wallet: Wallet = {
    payments,
    faults: () => faults,
    setFaults(patch) {
      faults = walletFaultsSchema.parse({ ...faults, ...patch });
      return faults;
    },

    create(input) {
      const existingId = byMerchantOrder.get(input.merchantOrderId);
      if (existingId) {
        const existing = payments.get(existingId)!;
        if (existing.amount !== input.amount || existing.currency !== input.currency) return { conflict: existing };
        return { payment: existing, created: false };
      }
      const p: WalletPayment = {
        channelPaymentId: newId(),
        merchantId: options.merchantId,
        merchantOrderId: input.merchantOrderId,
        amount: input.amount,
        currency: input.currency,
        ...(input.description ? { description: input.description } : {}),
        notifyUrl: input.notifyUrl,
        status: 'NOTPAY',
        createdAt: new Date().toISOString(),
        refunds: [],
        extra: { ...input.extra },
        deliveries: [],
        droppedEvents: [],
      };
      payments.set(p.channelPaymentId, p);
      byMerchantOrder.set(p.merchantOrderId, p.channelPaymentId);
      changed(p);
      return { payment: p, created: true };
    },

    async createLatency() {
      if (faults.createLatencyMs > 0) await new Promise((r) => setTimeout(r, faults.createLatencyMs));
    },

    find: (id) => payments.get(id),
    findByOrder: (merchantOrderId) => payments.get(byMerchantOrder.get(merchantOrderId) ?? ''),

    async queryPasses(idOrOrder) {
      const p = payments.get(idOrOrder) ?? wallet.findByOrder(idOrOrder);
      const key = `${p ? identity(p) : idOrOrder}#${nth('query', p ? identity(p) : idOrOrder)}`;
      if (faults.queryLatencyMs > 0) await new Promise((r) => setTimeout(r, faults.queryLatencyMs));
      if (chance.happens(faults.queryTimeoutRate, 'query-timeout', key)) {
        await new Promise((r) => setTimeout(r, faults.queryTimeoutMs));
      }
      return !chance.happens(faults.queryErrorRate, 'query-error', key);
    },

    close(p) {
      if (p.status !== 'NOTPAY' && p.status !== 'USERPAYING') return;
      if (chance.happens(faults.closeRacePayRate, 'close-race', identity(p))) {
        logger.debug({ channelPaymentId: p.channelPaymentId }, 'fault: the buyer paid just before the close');
        settle(p);
        return;
      }
      p.status = 'CLOSED';
      p.closedAt = new Date().toISOString();
      if (chance.happens(faults.lateSettleRate, 'late-settle', identity(p))) {
        logger.debug({ channelPaymentId: p.channelPaymentId }, 'fault: the channel will settle this closed payment');
        settleDue.set(p.channelPaymentId, new Date(Date.now() + faults.lateSettleDelayMs).toISOString());
        settleLater(p, faults.lateSettleDelayMs);
      }
      changed(p);
    },

    pay(p) {
      if (p.status === 'CLOSED') return { ok: false, error: 'payment_closed' };
      if (p.status === 'PAYERROR') return { ok: false, error: 'payment_failed' };
      if (p.status === 'NOTPAY') {
        if (chance.happens(faults.stuckPendingRate, 'stuck', identity(p))) {
          p.status = 'USERPAYING';
          changed(p);
          logger.debug({ channelPaymentId: p.channelPaymentId }, 'fault: payment stuck pending');
        } else {
          settle(p);
        }
      }
      return { ok: true };
    },

    decline(p, reason = DECLINE_REASONS[0]) {
      if (p.status === 'NOTPAY' || p.status === 'USERPAYING') {
        p.status = 'PAYERROR';
        p.reason = reason;
        notify(p, 'failed');
      } else if (p.status !== 'PAYERROR') {
        return { ok: false, error: 'payment_not_pending' };
      }
      return { ok: true };
    },

    refund(p, refundKey, amount) {
      const existing = p.refunds.find((r) => r.refundKey === refundKey);
      if (existing) {
        return existing.amount === amount
          ? { ok: true, refund: existing, created: false }
          : { ok: false, error: 'refund_key_conflict' };
      }
      if (p.status !== 'SUCCESS' && p.status !== 'REFUND') return { ok: false, error: 'payment_not_paid' };
      if (p.refunds.reduce((sum, r) => sum + r.amount, 0) + amount > p.amount) {
        return { ok: false, error: 'refund_exceeds_payment' };
      }
      const refund: WalletRefund = {
        refundId: `rf_${randomUUID().replace(/-/g, '')}`,
        refundKey,
        amount,
        status: 'PROCESSING',
        createdAt: new Date().toISOString(),
      };
      p.refunds.push(refund);
      changed(p);
      completeRefundLater(p, refund, options.refundDelayMs ?? 2000);
      return { ok: true, refund, created: true };
    },

    findRefund(refundIdOrKey) {
      for (const payment of payments.values()) {
        const refund = payment.refunds.find((r) => r.refundId === refundIdOrKey || r.refundKey === refundIdOrKey);
        if (refund) return { payment, refund };
      }
      return undefined;
    },

    paidBetween: (from, to) =>
      [...payments.values()].filter((p) => p.paidAt && Date.parse(p.paidAt) >= from && Date.parse(p.paidAt) < to),

    settle,
    later,
    changed,
    flush,

    router() {
      const router = Router();
      router.use(express.json({ limit: '16kb' }));
      const found = (req: Request, res: Response): WalletPayment | undefined => {
        const p = payments.get(String(req.params.id));
        if (!p) res.status(404).json({ error: 'payment_not_found' });
        return p;
      };
      router.get('/pay/:id', (req, res) => {
        const p = payments.get(String(req.params.id));
        if (!p) {
          res.status(404).type('text/plain').send('no such payment');
          return;
        }
        res.type('html').send(walletPage(options.title, options.merchantName ?? DEMO_MERCHANT_NAME, p));
      });
      router.post('/wallet/:id/pay', async (req, res) => {
        const p = found(req, res);
        if (!p) return;
        const r = wallet.pay(p);
        if (!(await storedOr503(res))) return;
        if (r.ok) res.json(walletView(p));
        else res.status(409).json({ error: r.error, status: p.status });
      });
      router.post('/wallet/:id/decline', async (req, res) => {
        const p = found(req, res);
        if (!p) return;
        const body = declineReason(req, res);
        if (!body) return;
        const r = wallet.decline(p, body.reason);
        if (!(await storedOr503(res))) return;
        if (r.ok) res.json(walletView(p));
        else res.status(409).json({ error: r.error, status: p.status });
      });
      router.get('/admin/faults', (_req, res) => {
        res.json(faults);
      });
      router.put('/admin/faults', (req, res) => {
        const parsed = walletFaultsSchema.partial().strict().safeParse(req.body);
        if (!parsed.success) {
          res
            .status(400)
            .json({ error: 'invalid_faults', fields: parsed.error.issues.map((i) => i.path.join('.') || i.message) });
          return;
        }
        faults = { ...faults, ...parsed.data };
        res.json(faults);
      });
      router.get('/admin/payments', (_req, res) => {
        res.json(
          [...payments.values()].map((p) => ({
            ...walletView(p),
            deliveries: p.deliveries,
            droppedEvents: p.droppedEvents,
          })),
        );
      });
      /** Simulates the channel settling a payment as paid after it was closed (the anomaly a merchant must catch). */
      router.post('/admin/payments/:id/settle-late', async (req, res) => {
        const p = found(req, res);
        if (!p) return;
        settle(p);
        if (!(await storedOr503(res))) return;
        res.json(walletView(p));
      });
      return router;
    },

    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
  return wallet;
}
