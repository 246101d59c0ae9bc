// One interface for every payment channel. Business outcomes (refused, not found, closed) are values; an
// exception means infrastructure trouble (timeout, 5xx, network) that Temporal should retry.
import type { ChannelState } from '../workflows/states';

/** Retryable: the channel could not be reached or answered with a server error. */
export class ChannelUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelUnavailableError';
  }
}

export interface CreateChannelPaymentRequest {
  /** Our payment id; the channel deduplicates creation on it. */
  paymentId: string;
  amount: number;
  currency: string;
  description?: string;
  notifyUrl: string;
  /**
   * When the payment expires here (ISO). A channel that can end its own trade then is told (WeChat Pay's and Alipay's
   * time_expire), so a code handed out late in a payment's life does not stay payable after we have closed it.
   */
  expiresAt?: string;
}

/**
 * What the buyer is handed to pay, typed by channel: a page to open (SandboxPay's wallet, Alipay page.pay), a QR
 * code's content to show (WeChat Pay Native `code_url`, Alipay precreate `qr_code`), or a client secret the buyer's
 * browser confirms with (Stripe PaymentIntents). `pageUrl`, when there is one, is a page a browser can open to pay
 * (the emulators' wallet pages; Stripe's hosted page); the shop shows the QR code or opens the page.
 */
export type BuyerHandoff =
  | { kind: 'redirect'; url: string }
  | { kind: 'qr_code'; codeUrl: string; pageUrl?: string }
  | { kind: 'client_secret'; clientSecret: string; publishableKey?: string; pageUrl?: string };

/** Where a browser can go to pay, if anywhere: the redirect, else the hand-off's page. */
export function handoffUrl(handoff: BuyerHandoff): string | undefined {
  return handoff.kind === 'redirect' ? handoff.url : handoff.pageUrl;
}

export type CreateChannelPaymentOutcome =
  | { outcome: 'created'; channelPaymentId: string; handoff: BuyerHandoff }
  | { outcome: 'rejected'; reason: string };

export interface ChannelPaymentRef {
  paymentId: string;
  /** Unknown when creation's outcome is unknown: the channel is then asked by our payment id. */
  channelPaymentId?: string;
}

export interface ChannelPaymentView {
  state: ChannelState;
  /** The channel's own status word, for the event log. */
  channelStatus: string;
  channelPaymentId?: string;
  amount?: number;
  currency?: string;
  paidAt?: string;
  /**
   * Why a payment failed or closed, in the channel's words for a buyer (a decline's reason: WeChat Pay
   * trade_state_desc, Stripe's last_payment_error.message, ...), when the channel gives one.
   */
  reason?: string;
}

export interface RefundRequest {
  paymentId: string;
  channelPaymentId: string;
  /** Idempotency key for the refund at the channel. */
  refundKey: string;
  amount: number;
}

export type RefundOutcome =
  | { outcome: 'accepted'; refundId: string; state: 'PROCESSING' | 'SUCCESS' }
  | { outcome: 'rejected'; reason: string };

export interface RefundRef {
  channelPaymentId: string;
  refundId: string;
}

export type RefundState = 'PROCESSING' | 'SUCCESS' | 'FAILED' | 'NOT_FOUND';

/** One paid payment in the channel's statement (its record of money that moved). */
export interface StatementEntry {
  channelPaymentId: string;
  /** Our payment id, as we gave it at creation. */
  paymentId: string;
  amount: number;
  currency: string;
  paidAt: string;
  /** Refunded so far, in minor units. */
  refundedAmount: number;
}

export interface ParsedCallback {
  eventId: string;
  eventType: string;
  channelPaymentId: string;
  /** Our payment id, as we gave it at creation. */
  paymentId: string;
  merchantId: string;
  state: ChannelState;
  channelStatus: string;
  amount: number;
  currency: string;
  paidAt?: string;
  /** Why it failed or closed, in the channel's words (see ChannelPaymentView.reason), when the notification says. */
  reason?: string;
}

export type CallbackVerification =
  | { ok: true; callback: ParsedCallback; payload: unknown }
  /**
   * Genuine (signature and merchant verified) but about nothing a payment waits for, e.g. Stripe's
   * `payment_intent.created` or a refund notification (refunds are followed by query): recorded, answered as
   * accepted, not signalled.
   */
  | { ok: true; ignored: string; eventId?: string; paymentId?: string; payload: unknown }
  | {
      ok: false;
      reason: 'missing_signature' | 'stale_timestamp' | 'bad_signature' | 'malformed_body' | 'wrong_merchant';
      /** Said to the sender, e.g. how far off a stale timestamp is; never a secret or an expected signature. */
      detail?: string;
    };

/** How a callback went, for the channel's own answer. */
export type CallbackResult =
  | { ok: true; duplicate: boolean; outcome: string }
  /** `status` 4xx: the callback is refused (forged, unreadable, unknown); 5xx: ours failed, the channel must retry. */
  | { ok: false; status: number; code: string; message: string };

/** The HTTP answer a channel expects to a callback. */
export interface CallbackAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface PaymentChannel {
  readonly name: string;
  /**
   * The channel's own answer (WeChat Pay v3: 204, or `{"code":"FAIL","message":...}` with 4xx/5xx; Alipay: the text
   * `success`, anything else meaning "retry"). Absent: the API's JSON answer (2xx `{received, duplicate, outcome}`,
   * problem+json otherwise).
   */
  answerCallback?(result: CallbackResult): CallbackAnswer;
  create(request: CreateChannelPaymentRequest): Promise<CreateChannelPaymentOutcome>;
  query(ref: ChannelPaymentRef): Promise<ChannelPaymentView>;
  /** Closes an unpaid payment. Answers the state it ended in: a payment that was paid first stays SUCCESS. */
  close(ref: ChannelPaymentRef): Promise<ChannelPaymentView>;
  refund(request: RefundRequest): Promise<RefundOutcome>;
  queryRefund(ref: RefundRef): Promise<RefundState>;
  /** Payments the channel says were paid in [from, to). */
  statement(range: { from: Date; to: Date }): Promise<StatementEntry[]>;
  /**
   * Where the channel's statement is final at `now`, for a channel whose statement lags (daily bills published the
   * next morning): the reconciler compares nothing later than this. Absent: the statement is live.
   */
  statementReadyUntil?(now: Date): Date;
  /**
   * Checks the signature first (constant time, bounded clock skew), then parses. Never rejects. Asynchronous: a
   * channel may have to find the key first (WeChat Pay picks its platform key by the Wechatpay-Serial header).
   */
  verifyCallback(
    rawBody: Buffer,
    header: (name: string) => string | undefined,
    nowMs: number,
  ): Promise<CallbackVerification>;
}
