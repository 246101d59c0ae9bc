// The Stripe adapter: PaymentIntents through the official `stripe` client. A payment is one PaymentIntent, created
// idempotently on our payment id and carrying it in metadata.payment_id; the buyer's browser confirms it with the
// client secret (Stripe.js, or our demo page, sandbox/stripe/checkout.ts). Webhooks are verified by the client's
// constructEvent (HMAC-SHA256 over "t.body", 300 s tolerance).
//
// Statuses: requires_payment_method / requires_confirmation / requires_action / processing / requires_capture are
// pending; succeeded is SUCCESS; canceled is CLOSED. A declined card leaves the intent in requires_payment_method, and
// that is still pending, not FAILED: Stripe keeps the intent open for the buyer to try another card, so the payment
// stays PAYING until it succeeds or expires (and is then canceled here). Stripe has no final "failed" intent.
import Stripe from 'stripe';
import { z } from 'zod';
import type { StripeChannelConfig } from '../config';
import { hasControlCharacters, isWellFormed } from '../db/text';
import type { Logger } from '../observability/logger';
import type { ChannelState } from '../workflows/states';
import { fromStripeAmount, MoneyFormatError, toStripeAmount } from './money';
import {
  type CallbackVerification,
  ChannelUnavailableError,
  type ChannelPaymentRef,
  type ChannelPaymentView,
  type CreateChannelPaymentOutcome,
  type CreateChannelPaymentRequest,
  type PaymentChannel,
  type RefundOutcome,
  type RefundRef,
  type RefundRequest,
  type RefundState,
  type StatementEntry,
} from './types';
import { stateOfWord } from './status';

/**
 * The API version every request names (Stripe-Version), so a change of the account's default version cannot change
 * the shapes we read: the one this client release (stripe 22.6.2) is typed for. Why that release: 23.x pins
 * 2026-09-30.endive and later, where PaymentIntents take `allowed_payment_method_types` instead of
 * `payment_method_types`; localstripe (our test double) knows only the latter and refuses unknown parameters. It
 * ignores Stripe-Version, and the fields we read (id, status, amount, currency, metadata, client_secret, created,
 * latest_charge, amount_refunded, payment_intent) have the same shape there as in every version since 2022-11-15.
 */
export const STRIPE_API_VERSION = '2026-08-26.dahlia' as const;

/** Stripe's own tolerance for a webhook's timestamp (its SDK default, and what its docs ask for). */
export const WEBHOOK_TOLERANCE_S = 300;

const STATUS_MAP: Record<string, ChannelState> = {
  requires_payment_method: 'PENDING',
  requires_confirmation: 'PENDING',
  requires_action: 'PENDING',
  processing: 'PENDING',
  requires_capture: 'PENDING',
  succeeded: 'SUCCESS',
  canceled: 'CLOSED',
};

const REFUND_STATUS_MAP: Record<string, RefundState> = {
  succeeded: 'SUCCESS',
  pending: 'PROCESSING',
  requires_action: 'PROCESSING',
  failed: 'FAILED',
  canceled: 'FAILED',
};

/** The webhook events a payment waits for; any other type is genuine but ignored (recorded, answered 200). */
const FOLLOWED_EVENTS = new Set([
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
]);

// Every string of a callback ends up in our tables or in a workflow: control characters and lone surrogates make it
// unreadable (400), however well it is signed.
const field = z
  .string()
  .max(1024)
  .refine((s) => !hasControlCharacters(s) && isWellFormed(s), 'control character or lone surrogate');

const intentSchema = z.object({
  id: field.min(1),
  object: z.literal('payment_intent'),
  status: field,
  amount: z.number().int().nonnegative(),
  currency: field.regex(/^[a-z]{3}$/i),
  created: z.number().int(),
  metadata: z.record(z.string(), z.string()).nullish(),
  latest_charge: z.union([z.string(), z.object({ created: z.number().int() }).passthrough()]).nullish(),
  /** Why the last attempt failed ("Your card was declined."): a declined card leaves the intent payable. */
  last_payment_error: z
    .object({ message: z.string().max(1024).optional() })
    .passthrough()
    .nullish(),
  cancellation_reason: z.string().max(64).nullish(),
});

/** Stripe's cancellation_reason values, as a buyer reads them. */
const CANCELLATION_REASONS: Record<string, string> = {
  abandoned: 'the payment was abandoned',
  automatic: 'the payment expired',
  duplicate: 'a duplicate payment was cancelled',
  failed_invoice: 'the invoice failed',
  fraudulent: 'the payment was cancelled as fraudulent',
  requested_by_customer: 'cancelled at your request',
  void_invoice: 'the invoice was voided',
};

/**
 * Why an intent did not succeed: its last_payment_error's message (a decline, said for the buyer), else why it was
 * canceled. A succeeded intent has no reason, whatever an earlier attempt said.
 */
function intentReason(pi: z.infer<typeof intentSchema>, state: ChannelState): { reason?: string } {
  if (state === 'SUCCESS') return {};
  const message = pi.last_payment_error?.message?.trim();
  if (message) return { reason: message };
  const cancelled = state === 'CLOSED' && pi.cancellation_reason ? pi.cancellation_reason : undefined;
  return cancelled ? { reason: CANCELLATION_REASONS[cancelled] ?? cancelled.replace(/_/g, ' ') } : {};
}

const eventSchema = z.object({
  id: field.min(1),
  type: field.min(1),
  created: z.number().int(),
  livemode: z.boolean(),
  account: field.optional(),
  data: z.object({ object: z.object({ object: z.string().optional() }).passthrough() }),
});

/** Ours: the id we put in metadata at creation (a payment id never holds a quote or a backslash). */
const OUR_ID = /^[A-Za-z0-9_-]{1,128}$/;

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** The API URL as the client's host/port/protocol (it takes no base URL). */
function clientOptions(apiUrl: string): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  const url = new URL(apiUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port || (protocol === 'http' ? 80 : 443), protocol };
}

export class StripeChannel implements PaymentChannel {
  readonly name = 'stripe';
  private readonly stripe: Stripe;
  /** A live key takes live events only, a test key test events only: the other mode is another merchant to us. */
  private readonly livemode: boolean;

  constructor(
    private readonly config: StripeChannelConfig,
    private readonly logger: Logger,
  ) {
    this.stripe = new Stripe(config.secretKey, {
      apiVersion: STRIPE_API_VERSION,
      ...clientOptions(config.apiUrl),
      timeout: config.timeoutMs,
      // Temporal retries the activity (with its own backoff and a deadline): a retry inside it would only hide time.
      maxNetworkRetries: 0,
      typescript: true,
    });
    this.livemode = /^(sk|rk)_live_/.test(config.secretKey);
  }

  private mapStatus(status: string, channelPaymentId: string): ChannelState {
    return stateOfWord(STATUS_MAP, status, 'PENDING', {
      logger: this.logger,
      channel: this.name,
      what: 'PaymentIntent status',
      context: { channelPaymentId },
    });
  }

  /**
   * Runs one Stripe call. Infrastructure trouble (no connection, timeout, Stripe's 5xx, 429, a refused key) becomes
   * ChannelUnavailableError, which Temporal retries; Stripe's answers about the request (404, 400, a card declined)
   * are thrown as the client's errors for the caller to turn into values.
   */
  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError) {
        const status = err.statusCode ?? 0;
        if (
          err instanceof Stripe.errors.StripeConnectionError ||
          err instanceof Stripe.errors.StripeAPIError ||
          err instanceof Stripe.errors.StripeRateLimitError ||
          err instanceof Stripe.errors.StripeAuthenticationError ||
          // The same idempotency key still in flight at Stripe (our first try timed out, its retry came): 409
          // idempotency_key_in_use, or lock_timeout. Not a refusal: the first request may well succeed.
          err instanceof Stripe.errors.StripeIdempotencyError ||
          status === 409 ||
          err.code === 'lock_timeout' ||
          status === 0 ||
          status >= 500 ||
          status === 429 ||
          status === 401
        ) {
          throw new ChannelUnavailableError(`${what}: ${err.type}${status ? ` HTTP ${status}` : ''}: ${err.message}`);
        }
        throw err;
      }
      // Not the client's own error (a socket torn mid-answer, an unreadable body): nothing is known, so retry.
      throw new ChannelUnavailableError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private toView(intent: unknown): ChannelPaymentView {
    const pi = intentSchema.parse(intent);
    const currency = pi.currency.toUpperCase();
    const state = this.mapStatus(pi.status, pi.id);
    const chargedAt = typeof pi.latest_charge === 'object' && pi.latest_charge ? pi.latest_charge.created : undefined;
    return {
      state,
      channelStatus: pi.status,
      channelPaymentId: pi.id,
      amount: fromStripeAmount(pi.amount, currency),
      currency,
      ...(state === 'SUCCESS' ? { paidAt: iso(chargedAt ?? pi.created) } : {}),
      ...intentReason(pi, state),
    };
  }

  async create(request: CreateChannelPaymentRequest): Promise<CreateChannelPaymentOutcome> {
    let amount: number;
    try {
      amount = toStripeAmount(request.amount, request.currency);
    } catch (err) {
      if (err instanceof MoneyFormatError) return { outcome: 'rejected', reason: err.message };
      throw err;
    }
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.call('create PaymentIntent', () =>
        this.stripe.paymentIntents.create(
          {
            amount,
            currency: request.currency.toLowerCase(),
            // Cards only: what the buyer's page confirms with (and all localstripe models).
            payment_method_types: ['card'],
            metadata: { payment_id: request.paymentId },
            ...(request.description ? { description: request.description } : {}),
          },
          // Creating again after a lost answer returns the same intent (Stripe keeps keys for 24 h).
          { idempotencyKey: request.paymentId },
        ),
      );
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError) {
        return { outcome: 'rejected', reason: `${err.type}${err.code ? ` ${err.code}` : ''}: ${err.message}` };
      }
      throw err;
    }
    if (!intent.client_secret)
      throw new ChannelUnavailableError(`PaymentIntent ${intent.id} came without a client secret`);
    const pageUrl = this.config.checkoutUrl
      ? `${this.config.checkoutUrl.replace(/\/$/, '')}/stripe/checkout/${encodeURIComponent(intent.id)}` +
        `?client_secret=${encodeURIComponent(intent.client_secret)}`
      : undefined;
    return {
      outcome: 'created',
      channelPaymentId: intent.id,
      handoff: {
        kind: 'client_secret',
        clientSecret: intent.client_secret,
        ...(this.config.publishableKey ? { publishableKey: this.config.publishableKey } : {}),
        ...(pageUrl ? { pageUrl } : {}),
      },
    };
  }

  async query(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    if (ref.channelPaymentId) {
      const id = ref.channelPaymentId;
      try {
        const intent = await this.call('retrieve PaymentIntent', () =>
          this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }),
        );
        return this.toView(intent);
      } catch (err) {
        if (err instanceof Stripe.errors.StripeError && err.statusCode === 404) {
          return { state: 'NOT_FOUND', channelStatus: 'NOT_FOUND' };
        }
        throw err;
      }
    }
    // Creation's answer was lost: find the intent by the id we gave it. Stripe's search is eventually consistent
    // (an intent is searchable within about a minute), so a fresh one may be NOT_FOUND for a while; the workflow
    // treats NOT_FOUND before expiry as "not created yet", and creating again is idempotent on the same key.
    if (!OUR_ID.test(ref.paymentId)) return { state: 'NOT_FOUND', channelStatus: 'NOT_FOUND' };
    const found = await this.call('search PaymentIntents', () =>
      this.stripe.paymentIntents.search({
        query: `metadata['payment_id']:'${ref.paymentId}'`,
        expand: ['data.latest_charge'],
        limit: 10,
      }),
    );
    if (found.data.length === 0) return { state: 'NOT_FOUND', channelStatus: 'NOT_FOUND' };
    if (found.data.length > 1) {
      // Idempotent creation makes one; more means someone else used our id. The paid one, if any, decides.
      this.logger.error(
        { channel: this.name, paymentId: ref.paymentId, intents: found.data.map((p) => p.id) },
        'several PaymentIntents carry one payment id',
      );
    }
    const views = found.data.map((pi) => this.toView(pi));
    return views.find((v) => v.state === 'SUCCESS') ?? views[0]!;
  }

  async close(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    let id = ref.channelPaymentId;
    if (!id) {
      const found = await this.query(ref);
      if (found.state === 'NOT_FOUND' || !found.channelPaymentId) return found; // never created: nothing to close
      id = found.channelPaymentId;
    }
    const channelPaymentId = id;
    try {
      const intent = await this.call('cancel PaymentIntent', () => this.stripe.paymentIntents.cancel(channelPaymentId));
      return this.toView(intent);
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeError)) throw err;
      if (err.statusCode === 404) return { state: 'NOT_FOUND', channelStatus: 'NOT_FOUND' };
      // Refused (400): succeeded, already canceled or processing cannot be canceled. The intent itself says which:
      // a payment that was paid first stays SUCCESS.
      if (err instanceof Stripe.errors.StripeInvalidRequestError) {
        return this.query({ paymentId: ref.paymentId, channelPaymentId });
      }
      throw err;
    }
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    // Our amount is in our minor units; Stripe's depends on the currency, which the intent knows.
    const view = await this.query({ paymentId: request.paymentId, channelPaymentId: request.channelPaymentId });
    if (view.state === 'NOT_FOUND' || !view.currency) {
      return { outcome: 'rejected', reason: `PaymentIntent ${request.channelPaymentId} not found` };
    }
    const currency = view.currency;
    let amount: number;
    try {
      amount = toStripeAmount(request.amount, currency);
    } catch (err) {
      if (err instanceof MoneyFormatError) return { outcome: 'rejected', reason: err.message };
      throw err;
    }
    let refund: Stripe.Refund;
    try {
      refund = await this.call('create Refund', () =>
        this.stripe.refunds.create(
          { payment_intent: request.channelPaymentId, amount, metadata: { payment_id: request.paymentId } },
          { idempotencyKey: request.refundKey },
        ),
      );
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError) {
        return { outcome: 'rejected', reason: `${err.type}${err.code ? ` ${err.code}` : ''}: ${err.message}` };
      }
      throw err;
    }
    const state = this.refundState(refund);
    if (state === 'FAILED' || state === 'NOT_FOUND') {
      return { outcome: 'rejected', reason: `refund ${refund.id} ${refund.status ?? 'without status'}` };
    }
    return { outcome: 'accepted', refundId: refund.id, state };
  }

  private refundState(refund: Stripe.Refund): RefundState {
    return stateOfWord(REFUND_STATUS_MAP, refund.status, 'PROCESSING', {
      logger: this.logger,
      channel: this.name,
      what: 'refund status',
      context: { refundId: refund.id },
    });
  }

  async queryRefund(ref: RefundRef): Promise<RefundState> {
    try {
      const refund = await this.call('retrieve Refund', () => this.stripe.refunds.retrieve(ref.refundId));
      return this.refundState(refund);
    } catch (err) {
      if (err instanceof Stripe.errors.StripeError && err.statusCode === 404) return 'NOT_FOUND';
      throw err;
    }
  }

  /**
   * The charges that succeeded in [from, to), with their intents: money that moved, by when its charge was made
   * (a card charge succeeds when it is made). Charges of intents we did not create (no metadata.payment_id) are not
   * ours and left out. Refunded amounts are the charges' amount_refunded.
   */
  async statement(range: { from: Date; to: Date }): Promise<StatementEntry[]> {
    const entries: StatementEntry[] = [];
    await this.call('list Charges', async () => {
      const charges = this.stripe.charges.list({
        created: { gte: Math.ceil(range.from.getTime() / 1000), lt: Math.ceil(range.to.getTime() / 1000) },
        expand: ['data.payment_intent'],
        limit: 100,
      });
      for await (const charge of charges) {
        if (charge.status !== 'succeeded' || !charge.paid || !charge.captured) continue;
        const intent = charge.payment_intent;
        if (!intent || typeof intent === 'string') continue;
        const paymentId = intent.metadata?.payment_id;
        if (!paymentId) continue;
        const currency = charge.currency.toUpperCase();
        entries.push({
          channelPaymentId: intent.id,
          paymentId,
          amount: fromStripeAmount(charge.amount, currency),
          currency,
          paidAt: iso(charge.created),
          refundedAmount: fromStripeAmount(charge.amount_refunded, currency),
        });
      }
    });
    return entries;
  }

  async verifyCallback(
    rawBody: Buffer,
    header: (name: string) => string | undefined,
    nowMs: number,
  ): Promise<CallbackVerification> {
    const signature = header('stripe-signature');
    if (!signature) return { ok: false, reason: 'missing_signature' };
    const toleranceS = this.config.webhookToleranceS ?? WEBHOOK_TOLERANCE_S;
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(
        rawBody,
        signature,
        this.config.webhookSecret,
        toleranceS,
        undefined,
        nowMs,
      );
    } catch (err) {
      if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
        // The client tells its cases apart only by message: no usable header, a stale timestamp, or a mismatch.
        if (/tolerance/i.test(err.message)) {
          const t = Number(/(?:^|,)\s*t=(\d+)/.exec(signature)?.[1]);
          const behind = Number.isFinite(t) ? Math.round(nowMs / 1000 - t) : undefined;
          return {
            ok: false,
            reason: 'stale_timestamp',
            detail: `${behind !== undefined ? `${behind} s behind our clock; ` : ''}at most ${toleranceS} s allowed`,
          };
        }
        if (/unable to extract|expected scheme|no stripe-signature/i.test(err.message)) {
          return { ok: false, reason: 'missing_signature' };
        }
        return { ok: false, reason: 'bad_signature' };
      }
      // Signed, but not JSON.
      return { ok: false, reason: 'malformed_body' };
    }
    // The client only refuses old timestamps; one from the future beyond the same bound is refused here, as every
    // other channel's callbacks are.
    const t = Number(/(?:^|,)\s*t=(\d+)/.exec(signature)?.[1]);
    if (Number.isFinite(t) && t * 1000 - nowMs > toleranceS * 1000) {
      return {
        ok: false,
        reason: 'stale_timestamp',
        detail: `${Math.round(t - nowMs / 1000)} s ahead of our clock; at most ${toleranceS} s allowed`,
      };
    }

    const parsedEvent = eventSchema.safeParse(event);
    if (!parsedEvent.success) return { ok: false, reason: 'malformed_body' };
    const e = parsedEvent.data;
    // Our key's mode decides whose events these are; Connect events (`account`) belong to another account.
    if (e.livemode !== this.livemode || e.account !== undefined) return { ok: false, reason: 'wrong_merchant' };

    const object = e.data.object as Record<string, unknown>;
    const metadata = object.metadata as Record<string, unknown> | undefined;
    const paymentId = typeof metadata?.payment_id === 'string' ? metadata.payment_id : undefined;
    if (!FOLLOWED_EVENTS.has(e.type) || object.object !== 'payment_intent') {
      return { ok: true, ignored: e.type, eventId: e.id, ...(paymentId ? { paymentId } : {}), payload: event };
    }
    // An intent we did not create (another integration on the account): genuine, but nothing of ours waits for it.
    if (!paymentId) return { ok: true, ignored: `${e.type} (no metadata.payment_id)`, eventId: e.id, payload: event };
    if (!field.safeParse(paymentId).success) return { ok: false, reason: 'malformed_body' };
    const parsedIntent = intentSchema.safeParse(object);
    if (!parsedIntent.success) return { ok: false, reason: 'malformed_body' };
    const pi = parsedIntent.data;
    const currency = pi.currency.toUpperCase();
    let amount: number;
    try {
      amount = fromStripeAmount(pi.amount, currency);
    } catch {
      return { ok: false, reason: 'malformed_body' };
    }
    const state = this.mapStatus(pi.status, pi.id);
    const chargedAt = typeof pi.latest_charge === 'object' && pi.latest_charge ? pi.latest_charge.created : undefined;
    return {
      ok: true,
      payload: event,
      callback: {
        eventId: e.id,
        eventType: e.type,
        channelPaymentId: pi.id,
        paymentId,
        merchantId: this.livemode ? 'live' : 'test',
        state,
        channelStatus: pi.status,
        amount,
        currency,
        ...(state === 'SUCCESS' ? { paidAt: iso(chargedAt ?? e.created) } : {}),
        ...intentReason(pi, state),
      },
    };
  }
}
