// The Alipay adapter: face-to-face payment by QR code (alipay.trade.precreate) over the OpenAPI v2 gateway, through
// the official alipay-sdk, with every reply's signature checked (validateSign: true; the SDK checks nothing unless
// asked) and notifications checked by its checkNotifySignV2 (V1 decodes values and throws on any "%").
//
// Our payment is known at Alipay by its out_trade_no (our payment id as 32 hex digits), which is also the channel
// payment id we keep: precreate answers no trade_no (Alipay creates the trade only when the buyer scans the code), and
// out_trade_no names the trade in every call and notification. Until the scan, query and close answer
// ACQ.TRADE_NOT_EXIST (NOT_FOUND: pending before expiry, nothing to close at it).
//
// Errors: the SDK throws for the network, timeouts, HTTP errors and replies that fail their signature: retryable
// (ChannelUnavailableError), as are Alipay's system errors (20000, ACQ.SYSTEM_ERROR) and gateway-level refusals
// (4000x: our configuration; logged loudly). A business answer (40004) is a value.
import { createHash } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
import { z } from 'zod';
import { hasControlCharacters, isWellFormed } from '../../db/text';
import type { Logger } from '../../observability/logger';
import type { ChannelState } from '../../workflows/states';
import { billsReadyUntil } from '../bills';
import { fromDecimalString, toDecimalString } from '../money';
import {
  type CallbackAnswer,
  type CallbackResult,
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
} from '../types';
import { BillFormatError, readTradeBill } from './bill';
import {
  beijingDaysBetween,
  fromBeijingTime,
  fromOutTradeNo,
  toBeijingTime,
  toOutTradeNo,
  TRADE_STATUSES,
} from './fields';
import { stateOfWord } from '../status';
import type { AlipayChannelConfig } from '../../config';

/** The adapter's configuration, as config/index.ts reads and validates it. */
export type AlipayConfig = AlipayChannelConfig;

/** One gateway reply node (snake_case, as the gateway writes it: the SDK's camelcase is off). */
type Reply = Record<string, unknown> & { code: string; msg?: string; sub_code?: string; sub_msg?: string };

const SUCCESS = '10000';
const BUSINESS_FAILED = '40004';
/** precreate's range: 0.01 to 100,000,000.00 yuan. */
const MAX_AMOUNT = 100_000_000_00;
/** How many daily bills one statement may fetch. */
const MAX_BILL_DAYS = 62;

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

// Every string of a notification ends up in our tables or a workflow: control characters and lone surrogates make it
// unreadable (400), however well it is signed.
const field = z
  .string()
  .max(1024)
  .refine((s) => !hasControlCharacters(s) && isWellFormed(s), 'control character or lone surrogate');

/**
 * How old a notification may be: Alipay retries for about 25 hours (4m, 10m, 10m, 1h, 2h, 6h, 15h), and whether a
 * retry carries a fresh notify_time or the first one, it is younger than this. Older is a replay.
 */
const NOTIFY_MAX_AGE_MS = 26 * 3600_000;
/** How far ahead of our clock notify_time may be (Alipay's clock, or ours, a little off). */
const NOTIFY_MAX_AHEAD_MS = 5 * 60_000;

const notificationSchema = z.object({
  notify_id: field.min(1).max(128),
  notify_time: field,
  notify_type: field,
  app_id: field,
  seller_id: field,
  trade_no: field.min(1),
  out_trade_no: field.min(1),
  trade_status: field.min(1),
  total_amount: field,
  gmt_payment: field.optional(),
  refund_fee: field.optional(),
  gmt_refund: field.optional(),
  out_biz_no: field.optional(),
});

/** A subject Alipay takes: at most 256 characters, none of the characters it forbids (/ = &) nor controls. */
/**
 * Alipay does not say why a trade ended beyond its trade_status; its words for the ones that end unpaid, as the
 * reason a buyer is told (TRADE_CLOSED: "未付款交易超时关闭，或支付完成后全额退款"; paid and refunded is SUCCESS here).
 */
const TRADE_STATUS_REASONS: Record<string, string> = {
  TRADE_CLOSED: 'the trade was closed before it was paid',
};

function tradeReason(state: ChannelState, tradeStatus: string): { reason?: string } {
  const reason = Object.hasOwn(TRADE_STATUS_REASONS, tradeStatus) ? TRADE_STATUS_REASONS[tradeStatus] : undefined;
  return reason && (state === 'CLOSED' || state === 'FAILED') ? { reason } : {};
}

function subjectOf(request: CreateChannelPaymentRequest): string {
  const raw = request.description ?? `payment ${request.paymentId}`;
  const cleaned = [...raw.replace(/[/=&]/g, ' ')].filter((c) => !hasControlCharacters(c)).join('');
  return [...(cleaned.trim() || `payment ${request.paymentId}`)].slice(0, 256).join('');
}

/** Our refund key as out_request_no (64 characters at most): as it is when it fits, else a digest of it. */
export function toOutRequestNo(refundKey: string): string {
  if (/^[A-Za-z0-9_-]{1,64}$/.test(refundKey)) return refundKey;
  return `r${createHash('sha256').update(refundKey).digest('hex').slice(0, 40)}`;
}

export class AlipayChannel implements PaymentChannel {
  readonly name = 'alipay';
  /** A #private field: the SDK holds the private key as PEM text, and nothing that serializes us may reach it. */
  readonly #sdk: AlipaySdk;

  constructor(
    private readonly config: AlipayConfig,
    private readonly logger: Logger,
  ) {
    this.#sdk = new AlipaySdk({
      appId: config.appId,
      privateKey: String(config.appPrivateKey.export({ type: 'pkcs8', format: 'pem' })),
      keyType: 'PKCS8',
      alipayPublicKey: String(config.alipayPublicKey.export({ type: 'spki', format: 'pem' })),
      gateway: config.gateway,
      timeout: config.timeoutMs,
      camelcase: false,
    });
  }

  /** One gateway call. Answers success and business failures (40004); throws what should be retried. */
  private async call(method: string, bizContent: Record<string, unknown>, params: Record<string, string> = {}) {
    let result: unknown;
    try {
      result = await this.#sdk.exec(method, { bizContent, ...params }, { validateSign: true });
    } catch (err) {
      // Network error, timeout, HTTP status other than 200, an unreadable reply, or one whose signature failed.
      const message = err instanceof Error ? err.message : String(err);
      if (/验签/.test(message)) {
        this.logger.error({ channel: this.name, method }, 'Alipay reply signature did not verify; not trusted');
      }
      throw new ChannelUnavailableError(`${method}: ${message.slice(0, 300)}`);
    }
    const reply = result as Reply;
    if (typeof reply?.code !== 'string') throw new ChannelUnavailableError(`${method}: a reply without a code`);
    const described =
      `${method}: ${reply.code} ${reply.msg ?? ''} ${reply.sub_code ?? ''} ${reply.sub_msg ?? ''}`.trim();
    if (reply.code === SUCCESS) return reply;
    if (reply.code === BUSINESS_FAILED && reply.sub_code !== 'ACQ.SYSTEM_ERROR') return reply;
    if (reply.code !== '20000') {
      // 40001/40002/40003/40006: missing or invalid arguments, signature, app id, permissions: ours to fix.
      this.logger.error(
        { channel: this.name, method, code: reply.code, subCode: reply.sub_code },
        'Alipay refused the call',
      );
    }
    throw new ChannelUnavailableError(described);
  }

  private mapStatus(status: string, channelPaymentId: string): ChannelState {
    return stateOfWord(TRADE_STATUSES, status, 'PENDING', {
      logger: this.logger,
      channel: this.name,
      what: 'Alipay trade_status',
      context: { channelPaymentId },
    });
  }

  async create(request: CreateChannelPaymentRequest): Promise<CreateChannelPaymentOutcome> {
    if (request.currency !== 'CNY') {
      return { outcome: 'rejected', reason: `Alipay (domestic) takes CNY only, not ${request.currency}` };
    }
    if (request.amount < 1 || request.amount > MAX_AMOUNT) {
      return { outcome: 'rejected', reason: `Alipay takes 0.01 to 100000000.00 CNY, not ${request.amount} fen` };
    }
    let outTradeNo: string;
    try {
      outTradeNo = toOutTradeNo(request.paymentId);
    } catch (err) {
      return { outcome: 'rejected', reason: (err as Error).message };
    }
    const reply = await this.call(
      'alipay.trade.precreate',
      {
        out_trade_no: outTradeNo,
        total_amount: toDecimalString(request.amount, 'CNY'),
        subject: subjectOf(request),
        // The code dies when the payment expires here, so a buyer cannot pay what we have given up on: at our expiry
        // itself (time_expire, Beijing time), however late in the payment's life this create runs; else the window.
        ...(request.expiresAt
          ? { time_expire: toBeijingTime(Date.parse(request.expiresAt)) }
          : { timeout_express: `${this.config.qrTimeoutMinutes}m` }),
      },
      { notifyUrl: request.notifyUrl },
    );
    if (reply.code === SUCCESS) {
      const codeUrl = text(reply.qr_code);
      if (!codeUrl) throw new ChannelUnavailableError('alipay.trade.precreate: a success without qr_code');
      return {
        outcome: 'created',
        channelPaymentId: outTradeNo,
        handoff: { kind: 'qr_code', codeUrl, ...(/^https?:\/\//.test(codeUrl) ? { pageUrl: codeUrl } : {}) },
      };
    }
    if (reply.sub_code === 'ACQ.TRADE_HAS_SUCCESS' || reply.sub_code === 'ACQ.TRADE_HAS_CLOSE') {
      // A retried create after the trade was decided (paid or closed): it exists, there is no code left to show,
      // and the workflow's query will tell what happened. Refusing it would fail a payment that may be paid.
      return { outcome: 'created', channelPaymentId: outTradeNo, handoff: { kind: 'qr_code', codeUrl: '' } };
    }
    return { outcome: 'rejected', reason: `${reply.sub_code ?? reply.code}: ${reply.sub_msg ?? reply.msg ?? ''}` };
  }

  async query(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    const outTradeNo = ref.channelPaymentId ?? toOutTradeNo(ref.paymentId);
    const reply = await this.call('alipay.trade.query', { out_trade_no: outTradeNo });
    if (reply.code !== SUCCESS) {
      if (reply.sub_code === 'ACQ.TRADE_NOT_EXIST') return { state: 'NOT_FOUND', channelStatus: 'ACQ.TRADE_NOT_EXIST' };
      throw new ChannelUnavailableError(`alipay.trade.query: ${reply.sub_code ?? reply.code}`);
    }
    const status = text(reply.trade_status) ?? '';
    const total = text(reply.total_amount) ?? '';
    let amount: number;
    try {
      amount = fromDecimalString(total, 'CNY');
    } catch {
      throw new ChannelUnavailableError(`alipay.trade.query: unreadable total_amount "${total.slice(0, 32)}"`);
    }
    const paidAt = fromBeijingTime(text(reply.send_pay_date) ?? '');
    let state = this.mapStatus(status, outTradeNo);
    // TRADE_CLOSED after the money moved is a trade refunded in full: it was paid (as WeChat Pay's REFUND is).
    if (status === 'TRADE_CLOSED' && paidAt) state = 'SUCCESS';
    return {
      state,
      channelStatus: status,
      channelPaymentId: text(reply.out_trade_no) ?? outTradeNo,
      amount,
      currency: 'CNY',
      ...(paidAt ? { paidAt } : {}),
      ...tradeReason(state, status),
    };
  }

  async close(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    const outTradeNo = ref.channelPaymentId ?? toOutTradeNo(ref.paymentId);
    const reply = await this.call('alipay.trade.close', { out_trade_no: outTradeNo });
    if (reply.code === SUCCESS) {
      return {
        state: 'CLOSED',
        channelStatus: 'TRADE_CLOSED',
        channelPaymentId: outTradeNo,
        ...tradeReason('CLOSED', 'TRADE_CLOSED'),
      };
    }
    if (reply.sub_code === 'ACQ.TRADE_NOT_EXIST') return { state: 'NOT_FOUND', channelStatus: 'ACQ.TRADE_NOT_EXIST' };
    // ACQ.TRADE_STATUS_ERROR (and its cousins): no longer waiting for the buyer. Paid, or closed already: ask.
    return this.query({ ...ref, channelPaymentId: outTradeNo });
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const outRequestNo = toOutRequestNo(request.refundKey);
    const reply = await this.call('alipay.trade.refund', {
      out_trade_no: request.channelPaymentId,
      refund_amount: toDecimalString(request.amount, 'CNY'),
      out_request_no: outRequestNo,
    });
    if (reply.code === SUCCESS) {
      // fund_change "Y": money moved on this request. "N" (a repeat, or still going through): the refund query says.
      return {
        outcome: 'accepted',
        refundId: outRequestNo,
        state: reply.fund_change === 'Y' ? 'SUCCESS' : 'PROCESSING',
      };
    }
    return { outcome: 'rejected', reason: `${reply.sub_code ?? reply.code}: ${reply.sub_msg ?? reply.msg ?? ''}` };
  }

  async queryRefund(ref: RefundRef): Promise<RefundState> {
    const reply = await this.call('alipay.trade.fastpay.refund.query', {
      out_trade_no: ref.channelPaymentId,
      out_request_no: ref.refundId,
    });
    if (reply.code !== SUCCESS) {
      if (reply.sub_code === 'ACQ.TRADE_NOT_EXIST') return 'NOT_FOUND';
      throw new ChannelUnavailableError(`alipay.trade.fastpay.refund.query: ${reply.sub_code ?? reply.code}`);
    }
    if (reply.refund_status === 'REFUND_SUCCESS') return 'SUCCESS';
    // Alipay: no refund_status means "not received, or not (yet) successful"; no refund fields at all: none received.
    if (!text(reply.out_request_no) && !text(reply.refund_amount)) return 'NOT_FOUND';
    return 'PROCESSING';
  }

  /** A day's bill is out the next morning: the statement is final up to the end of the last such day. */
  statementReadyUntil(now: Date): Date {
    return billsReadyUntil(now, this.config.billDelayMs);
  }

  /**
   * Payments paid in [from, to), from the daily trade bills (Beijing days) that cover the range. The reconciler asks only
   * for days whose bill is out (statementReadyUntil); a day Alipay still has no bill for (isp.bill_not_exist) is
   * skipped, and the next run's lookback covers it.
   * refundedAmount counts the refunds in the bills fetched.
   */
  async statement(range: { from: Date; to: Date }): Promise<StatementEntry[]> {
    const days = beijingDaysBetween(range.from, range.to);
    if (days.length > MAX_BILL_DAYS)
      throw new RangeError(`a statement of ${days.length} days; at most ${MAX_BILL_DAYS}`);
    const paid = new Map<string, StatementEntry>();
    const refunded = new Map<string, number>();
    for (const day of days) {
      const reply = await this.call('alipay.data.dataservice.bill.downloadurl.query', {
        bill_type: 'trade',
        bill_date: day,
      });
      if (reply.code !== SUCCESS) {
        if (reply.sub_code === 'isp.bill_not_exist') continue;
        throw new ChannelUnavailableError(`bill of ${day}: ${reply.sub_code ?? reply.code} ${reply.sub_msg ?? ''}`);
      }
      const url = text(reply.bill_download_url) ?? '';
      if (!/^https?:\/\//.test(url)) throw new ChannelUnavailableError(`bill of ${day}: no download URL`);
      let archive: Buffer;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(this.config.timeoutMs * 6) });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        archive = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        throw new ChannelUnavailableError(`bill of ${day}: download failed: ${(err as Error).message}`);
      }
      let rows;
      try {
        rows = readTradeBill(archive);
      } catch (err) {
        if (err instanceof BillFormatError) throw new ChannelUnavailableError(`bill of ${day}: ${err.message}`);
        throw err;
      }
      for (const row of rows) {
        const paymentId = fromOutTradeNo(row.outTradeNo);
        if (!paymentId) continue; // a sale of the same account that is not one of ours
        if (row.kind === 'refund') {
          refunded.set(row.outTradeNo, (refunded.get(row.outTradeNo) ?? 0) + row.amount);
          continue;
        }
        const at = Date.parse(row.finishedAt);
        if (at < range.from.getTime() || at >= range.to.getTime()) continue;
        paid.set(row.outTradeNo, {
          channelPaymentId: row.outTradeNo,
          paymentId,
          amount: row.amount,
          currency: 'CNY',
          paidAt: row.finishedAt,
          refundedAmount: 0,
        });
      }
    }
    return [...paid.values()].map((e) => ({ ...e, refundedAmount: refunded.get(e.channelPaymentId) ?? 0 }));
  }

  /**
   * Alipay signs inside the form (no headers). Its signed notify_time bounds a replay (26 hours: longer than its
   * retries); duplicates within that are caught by notify_id (the event id) and by the workflow, which trusts only what
   * matches the payment.
   */
  async verifyCallback(
    rawBody: Buffer,
    _header?: (name: string) => string | undefined,
    nowMs?: number,
  ): Promise<CallbackVerification> {
    // The form as Alipay posted it (application/x-www-form-urlencoded, utf-8): values decoded once, as signed.
    const params: Record<string, string> = {};
    let repeated = false;
    for (const [k, v] of new URLSearchParams(rawBody.toString('utf8'))) {
      if (Object.hasOwn(params, k)) repeated = true;
      else params[k] = v;
    }
    if (!params.sign) return { ok: false, reason: 'missing_signature' };
    if ((params.sign_type ?? 'RSA2') !== 'RSA2')
      return { ok: false, reason: 'bad_signature', detail: 'sign_type must be RSA2' };
    let genuine = false;
    try {
      genuine = this.#sdk.checkNotifySignV2(params);
    } catch {
      genuine = false; // a signature that is not even base64, or a value the SDK cannot handle
    }
    if (!genuine) return { ok: false, reason: 'bad_signature' };

    const parsed = notificationSchema.safeParse(params);
    // Every value is kept in the event log: none may hold what PostgreSQL cannot store (NUL, a lone surrogate).
    const storable = Object.values(params).every((v) => !v.includes('\u0000') && isWellFormed(v));
    if (repeated || !parsed.success || !storable) return { ok: false, reason: 'malformed_body' };
    const n = parsed.data;
    // notify_time is signed: a notification older than Alipay's retries last (or from the future) is a replay.
    const sentAt = fromBeijingTime(n.notify_time);
    if (!sentAt) return { ok: false, reason: 'malformed_body', detail: 'notify_time is not a time' };
    const skewMs = (nowMs ?? Date.now()) - Date.parse(sentAt);
    if (skewMs > NOTIFY_MAX_AGE_MS || skewMs < -NOTIFY_MAX_AHEAD_MS) {
      const off = `${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'behind' : 'ahead of'} our clock`;
      return {
        ok: false,
        reason: 'stale_timestamp',
        detail: `notify_time is ${off}; at most ${NOTIFY_MAX_AGE_MS / 1000} s behind or ${NOTIFY_MAX_AHEAD_MS / 1000} s ahead allowed`,
      };
    }
    // Alipay mandates both: the notification is for our app, and the money went to our account.
    if (n.app_id !== this.config.appId || n.seller_id !== this.config.sellerId) {
      return { ok: false, reason: 'wrong_merchant' };
    }
    const paymentId = fromOutTradeNo(n.out_trade_no);
    if (!paymentId) return { ok: false, reason: 'malformed_body', detail: 'out_trade_no is not one of ours' };
    let amount: number;
    try {
      amount = fromDecimalString(n.total_amount, 'CNY');
    } catch {
      return { ok: false, reason: 'malformed_body', detail: 'total_amount is not an amount of CNY' };
    }
    if (n.refund_fee !== undefined || n.gmt_refund !== undefined || n.out_biz_no !== undefined) {
      // A refund's notice (TRADE_CLOSED after a full refund, TRADE_SUCCESS after a partial one). Money moved: it is
      // never "closed unpaid". Refunds are followed by query; this is recorded, acknowledged, not signalled.
      return { ok: true, ignored: `refund_notice:${n.trade_status}`, eventId: n.notify_id, paymentId, payload: params };
    }
    const paidAt = n.gmt_payment ? fromBeijingTime(n.gmt_payment) : undefined;
    const state = this.mapStatus(n.trade_status, n.out_trade_no);
    return {
      ok: true,
      payload: params,
      callback: {
        eventId: n.notify_id,
        eventType: `${n.notify_type}:${n.trade_status}`,
        channelPaymentId: n.out_trade_no,
        paymentId,
        merchantId: n.seller_id,
        state,
        channelStatus: n.trade_status,
        amount,
        currency: 'CNY',
        ...(paidAt ? { paidAt } : {}),
        ...tradeReason(state, n.trade_status),
      },
    };
  }

  /** Alipay's rule: the seven characters `success` accept; anything else (we say `fail`) is retried on its schedule. */
  answerCallback(result: CallbackResult): CallbackAnswer {
    if (result.ok) return { status: 200, contentType: 'text/plain', body: 'success' };
    return { status: result.status, contentType: 'text/plain', body: 'fail' };
  }
}
