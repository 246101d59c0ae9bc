// The WeChat Pay API v3 adapter (direct merchant, Native payment: the buyer scans a QR code). Our own client on
// node:crypto (crypto.ts): every request signed with the merchant key, every reply's signature verified with the
// platform key it names before a word of it is believed (a reply that does not verify is treated like no reply:
// ChannelUnavailableError, so Temporal asks again; it is never trusted).
//
// Decisions, where the vendor leaves room:
// - The channel payment id is out_trade_no (our payment id without dashes), not WeChat Pay's transaction_id: the
//   transaction id exists only once the buyer has paid, and the workflow trusts a callback only when its channel id
//   equals the one create returned. WeChat Pay's own id stays in the event log (the notification's payload).
// - Only CNY: WeChat Pay's domestic merchant API takes CNY only; other currencies are refused as `rejected`.
// - A refund's id is its out_refund_no (the refund key, or a digest of it when it does not fit the vendor's 64
//   characters of [0-9A-Za-z_-|*@]): that is what the refund query asks by.
// - Refund states: SUCCESS; PROCESSING; CLOSED and ABNORMAL are FAILED (ABNORMAL: the money could not reach the
//   buyer's account and needs a person, which is what FAILED leads to: NEEDS_REVIEW).
// - Business errors (4xx with a vendor code) are outcomes; 401 (our signature refused: a configuration fault), 429
//   and 5xx are ChannelUnavailableError, as is any reply whose signature does not verify, errors included.
// - Refund notifications (REFUND.*) are genuine but followed by query: verified and answered, not signalled.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../../observability/logger';
import type { ChannelState } from '../../workflows/states';
import { billsReadyUntil } from '../bills';
import { fromDecimalString, MoneyFormatError } from '../money';
import {
  type CallbackAnswer,
  type CallbackResult,
  type CallbackVerification,
  type ChannelPaymentRef,
  type ChannelPaymentView,
  ChannelUnavailableError,
  type CreateChannelPaymentOutcome,
  type CreateChannelPaymentRequest,
  type PaymentChannel,
  type RefundOutcome,
  type RefundRef,
  type RefundRequest,
  type RefundState,
  type StatementEntry,
} from '../types';
import {
  authorization,
  decryptResource,
  type MerchantIdentity,
  PlatformKeys,
  ResourceDecryptionError,
  verifySignature,
} from './crypto';
import { fromOutTradeNo, toOutTradeNo, TRADE_STATES, tradeReason, verifyNotification } from './notification';
import { stateOfWord } from '../status';
import type { WechatPayChannelConfig } from '../../config';

/** The adapter's configuration, as config/index.ts reads and validates it. */
export type WechatPayConfig = WechatPayChannelConfig;

const REFUND_STATES: Record<string, RefundState> = {
  SUCCESS: 'SUCCESS',
  PROCESSING: 'PROCESSING',
  CLOSED: 'FAILED',
  ABNORMAL: 'FAILED',
};

const transactionSchema = z.object({
  out_trade_no: z.string(),
  transaction_id: z.string().optional(),
  trade_state: z.string().min(1),
  trade_state_desc: z.string().max(256).optional(),
  success_time: z.string().optional(),
  amount: z.object({ total: z.number().int().nonnegative(), currency: z.string().optional() }),
});

const refundSchema = z.object({ out_refund_no: z.string(), status: z.string() });

const errorSchema = z.object({ code: z.string(), message: z.string().optional() });

/** out_refund_no: 1-64 of [0-9A-Za-z_-|*@]. A refund key that does not fit travels as a digest (still idempotent). */
export function toOutRefundNo(refundKey: string): string {
  return /^[0-9A-Za-z_\-|*@]{1,64}$/.test(refundKey)
    ? refundKey
    : `rk_${createHash('sha256').update(refundKey).digest('hex').slice(0, 48)}`;
}

/** A China calendar day (YYYY-MM-DD) of an instant: the trade bill's day. */
/** A moment as WeChat Pay writes it: RFC 3339 in China time, e.g. 2026-11-27T20:30:00+08:00. */
function chinaTime(ms: number): string {
  return `${new Date(ms + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

function chinaDay(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

interface Reply {
  status: number;
  json: unknown;
  code?: string;
  message?: string;
}

export class WechatPayChannel implements PaymentChannel {
  readonly name = 'wechatpay';
  private readonly keys = new PlatformKeys();
  private readonly merchant: MerchantIdentity;

  constructor(
    private readonly config: WechatPayConfig,
    private readonly logger: Logger,
  ) {
    for (const pem of config.platformCertificates) this.keys.addCertificate(pem);
    if (config.publicKey) this.keys.addPublicKey(config.publicKey.id, config.publicKey.pem);
    if (this.keys.size === 0) throw new Error('WeChat Pay needs a platform certificate or a WeChat Pay public key');
    this.merchant = { mchId: config.mchId, serialNo: config.merchantSerial, privateKey: config.privateKey };
  }

  private mapState(tradeState: string, outTradeNo: string): ChannelState {
    return stateOfWord(TRADE_STATES, tradeState, 'PENDING', {
      logger: this.logger,
      channel: this.name,
      what: 'WeChat Pay trade_state',
      context: { outTradeNo },
    });
  }

  /** One signed request; the reply's signature verified before anything in it is used. */
  private async call(method: 'GET' | 'POST', path: string, body?: object): Promise<Reply> {
    const url = new URL(`${this.config.apiUrl.replace(/\/$/, '')}${path}`);
    const text = body ? JSON.stringify(body) : '';
    const what = `${method} ${url.pathname}`;
    let res: Response;
    let replyText: string;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          'user-agent': 'payment-orchestrator wechatpay-v3',
          authorization: authorization(this.merchant, { method, url: url.pathname + url.search, body: text }),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: text } : {}),
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      replyText = await res.text();
    } catch (err) {
      throw new ChannelUnavailableError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.status >= 500 || res.status === 429) {
      throw new ChannelUnavailableError(`${what}: HTTP ${res.status}${this.errorCode(replyText)}`);
    }
    const signature = verifySignature((name) => res.headers.get(name) ?? undefined, replyText, this.keys, Date.now());
    if (!signature.ok) {
      this.logger.error(
        { channel: this.name, path: url.pathname, httpStatus: res.status, reason: signature.reason },
        'WeChat Pay reply failed its signature check: not trusted',
      );
      throw new ChannelUnavailableError(`${what}: the reply's signature did not verify (${signature.reason})`);
    }
    if (res.status === 401) {
      // Signed by the platform, so genuine: our own signature was refused. A configuration fault; retried, loudly.
      this.logger.error({ channel: this.name, path: url.pathname }, 'WeChat Pay refused our request signature');
      throw new ChannelUnavailableError(`${what}: HTTP 401${this.errorCode(replyText)}`);
    }
    let json: unknown;
    try {
      json = replyText ? JSON.parse(replyText) : undefined;
    } catch {
      throw new ChannelUnavailableError(`${what}: the reply is not JSON`);
    }
    const error = res.status >= 400 ? errorSchema.safeParse(json) : undefined;
    return {
      status: res.status,
      json,
      ...(error?.success ? { code: error.data.code, message: error.data.message ?? '' } : {}),
    };
  }

  private errorCode(text: string): string {
    try {
      const parsed = errorSchema.safeParse(JSON.parse(text));
      return parsed.success ? ` ${parsed.data.code}` : '';
    } catch {
      return '';
    }
  }

  private unexpected(what: string, reply: Reply): ChannelUnavailableError {
    // Retried (Temporal's policy has no attempt limit for these), so a 4xx that will never change (NO_AUTH,
    // PARAM_ERROR: our configuration) must at least be loud.
    if (reply.status >= 400 && reply.status < 500 && reply.status !== 429) {
      this.logger.error(
        { channel: this.name, status: reply.status, code: reply.code },
        `${what}: WeChat Pay refused the request; retrying, but a person should look`,
      );
    }
    return new ChannelUnavailableError(`${what} answered HTTP ${reply.status} ${reply.code ?? ''}`.trim());
  }

  async create(request: CreateChannelPaymentRequest): Promise<CreateChannelPaymentOutcome> {
    if (request.currency !== 'CNY') {
      return { outcome: 'rejected', reason: `WeChat Pay takes CNY only, not ${request.currency}` };
    }
    if (!Number.isSafeInteger(request.amount) || request.amount < 1) {
      return { outcome: 'rejected', reason: `amount ${request.amount} is not a positive number of fen` };
    }
    const outTradeNo = toOutTradeNo(request.paymentId);
    const reply = await this.call('POST', '/v3/pay/transactions/native', {
      appid: this.config.appId,
      mchid: this.config.mchId,
      // At most 127 characters (code points, so a CJK description is not cut inside a character).
      description: [...(request.description ?? `payment ${request.paymentId}`)].slice(0, 127).join(''),
      out_trade_no: outTradeNo,
      notify_url: request.notifyUrl,
      // The order ends at WeChat Pay when it expires here (RFC 3339, China time), so a code handed out late in the
      // payment's life is not payable after we have closed it.
      ...(request.expiresAt ? { time_expire: chinaTime(Date.parse(request.expiresAt)) } : {}),
      // CNY has two decimals: our minor units are WeChat Pay's fen as they are.
      amount: { total: request.amount, currency: 'CNY' },
    });
    if (reply.status === 200) {
      const { code_url: codeUrl } = z.object({ code_url: z.string().min(1) }).parse(reply.json);
      return {
        outcome: 'created',
        channelPaymentId: outTradeNo,
        // A browser can open the code only when it is a web address (the emulator's wallet page), not weixin://.
        handoff: { kind: 'qr_code', codeUrl, ...(/^https?:\/\//i.test(codeUrl) ? { pageUrl: codeUrl } : {}) },
      };
    }
    if (reply.code === 'ORDERPAID') {
      // A retried create after the buyer paid: the order exists and is paid. Nothing is left to hand the buyer; the
      // workflow's query finds it paid.
      return { outcome: 'created', channelPaymentId: outTradeNo, handoff: { kind: 'qr_code', codeUrl: '' } };
    }
    if (reply.status >= 400 && reply.code) {
      return { outcome: 'rejected', reason: `${reply.code}: ${reply.message ?? ''}`.trim() };
    }
    throw this.unexpected('prepay', reply);
  }

  async query(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    const outTradeNo = toOutTradeNo(ref.paymentId);
    const reply = await this.call(
      'GET',
      `/v3/pay/transactions/out-trade-no/${outTradeNo}?mchid=${encodeURIComponent(this.config.mchId)}`,
    );
    if (reply.status === 404 && reply.code === 'ORDER_NOT_EXIST') {
      return { state: 'NOT_FOUND', channelStatus: 'ORDER_NOT_EXIST' };
    }
    if (reply.status !== 200) throw this.unexpected('query', reply);
    const t = transactionSchema.parse(reply.json);
    if (t.out_trade_no !== outTradeNo) {
      throw new ChannelUnavailableError(`query for ${outTradeNo} answered about ${t.out_trade_no}`);
    }
    const paidAt = t.success_time ? new Date(t.success_time) : undefined;
    const state = this.mapState(t.trade_state, outTradeNo);
    return {
      state,
      channelStatus: t.trade_state,
      channelPaymentId: outTradeNo,
      amount: t.amount.total,
      currency: t.amount.currency ?? 'CNY',
      ...(paidAt && !Number.isNaN(paidAt.getTime()) ? { paidAt: paidAt.toISOString() } : {}),
      ...tradeReason(state, t.trade_state_desc),
    };
  }

  async close(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    const outTradeNo = toOutTradeNo(ref.paymentId);
    const reply = await this.call('POST', `/v3/pay/transactions/out-trade-no/${outTradeNo}/close`, {
      mchid: this.config.mchId,
    });
    if (reply.status === 404 && reply.code === 'ORDER_NOT_EXIST') {
      return { state: 'NOT_FOUND', channelStatus: 'ORDER_NOT_EXIST' };
    }
    // 204: closed (or it already was). ORDERPAID: the buyer paid first. Either way the query says what it is now.
    if (reply.status !== 204 && reply.code !== 'ORDERPAID') throw this.unexpected('close', reply);
    return this.query(ref);
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    // The vendor wants the order's total beside the refund: the query tells it (and whether there is an order).
    const order = await this.query({ paymentId: request.paymentId });
    if (order.state === 'NOT_FOUND' || order.amount === undefined) {
      return { outcome: 'rejected', reason: 'ORDER_NOT_EXIST: WeChat Pay has no such order' };
    }
    const outRefundNo = toOutRefundNo(request.refundKey);
    const reply = await this.call('POST', '/v3/refund/domestic/refunds', {
      out_trade_no: toOutTradeNo(request.paymentId),
      out_refund_no: outRefundNo,
      amount: { refund: request.amount, total: order.amount, currency: 'CNY' },
    });
    if (reply.status === 200) {
      const r = refundSchema.parse(reply.json);
      // CLOSED/ABNORMAL right away is rare; the refund query reports it (FAILED) on the first check.
      return { outcome: 'accepted', refundId: outRefundNo, state: r.status === 'SUCCESS' ? 'SUCCESS' : 'PROCESSING' };
    }
    if (reply.status >= 400 && reply.code) {
      return { outcome: 'rejected', reason: `${reply.code}: ${reply.message ?? ''}`.trim() };
    }
    throw this.unexpected('refund', reply);
  }

  async queryRefund(ref: RefundRef): Promise<RefundState> {
    const reply = await this.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(ref.refundId)}`);
    if (reply.status === 404) return 'NOT_FOUND';
    if (reply.status !== 200) throw this.unexpected('refund query', reply);
    const r = refundSchema.parse(reply.json);
    return stateOfWord(REFUND_STATES, r.status, 'PROCESSING', {
      logger: this.logger,
      channel: this.name,
      what: 'WeChat Pay refund status',
      context: { refundId: ref.refundId },
    });
  }

  /** A day's trade bill is out the next morning: the statement is final up to the end of the last such day. */
  statementReadyUntil(now: Date): Date {
    return billsReadyUntil(now, this.config.billDelayMs);
  }

  /**
   * Payments paid in [from, to), from the trade bills (ALL) of every China day the range touches: SUCCESS rows are
   * payments, REFUND rows refunds (a refund's own row, on the day it was accepted; counted when it succeeded).
   */
  async statement(range: { from: Date; to: Date }): Promise<StatementEntry[]> {
    const from = range.from.getTime();
    const to = range.to.getTime();
    const entries = new Map<string, StatementEntry>();
    const refunded = new Map<string, number>();
    for (
      let day = chinaDay(from);
      day <= chinaDay(to - 1);
      day = chinaDay(Date.parse(`${day}T12:00:00+08:00`) + DAY_MS)
    ) {
      const bill = await this.tradeBill(day);
      for (const row of bill) {
        if (row.state === 'SUCCESS') {
          const paidMs = Date.parse(row.paidAt);
          const paymentId = fromOutTradeNo(row.outTradeNo);
          if (!paymentId) {
            this.logger.warn({ channel: this.name, outTradeNo: row.outTradeNo }, 'bill row for an order not ours');
            continue;
          }
          if (paidMs >= from && paidMs < to) {
            entries.set(row.outTradeNo, {
              channelPaymentId: row.outTradeNo,
              paymentId,
              amount: row.amount,
              currency: row.currency,
              paidAt: new Date(paidMs).toISOString(),
              refundedAmount: 0,
            });
          }
        } else if (row.state === 'REFUND' && row.refundStatus === 'SUCCESS') {
          refunded.set(row.outTradeNo, (refunded.get(row.outTradeNo) ?? 0) + row.refundAmount);
        }
      }
    }
    for (const [outTradeNo, amount] of refunded) {
      const entry = entries.get(outTradeNo);
      if (entry) entry.refundedAmount = amount;
    }
    return [...entries.values()];
  }

  /** One day's trade bill: asked for (signed), downloaded (signed request; the file checked by its SHA1), parsed. */
  private async tradeBill(day: string): Promise<BillRow[]> {
    const reply = await this.call('GET', `/v3/bill/tradebill?bill_date=${day}&bill_type=ALL`);
    if (reply.code === 'NO_STATEMENT_EXIST') return []; // no trade that day
    if (reply.status !== 200) throw this.unexpected(`trade bill ${day}`, reply); // STATEMENT_CREATING: ask later
    const link = z
      .object({ download_url: z.url(), hash_type: z.literal('SHA1'), hash_value: z.string() })
      .parse(reply.json);
    const url = new URL(link.download_url);
    let file: Buffer;
    try {
      const res = await fetch(url, {
        headers: {
          authorization: authorization(this.merchant, { method: 'GET', url: url.pathname + url.search, body: '' }),
        },
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      file = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw new ChannelUnavailableError(`bill download: ${err instanceof Error ? err.message : String(err)}`);
    }
    // The download itself is not signed; the hash in the signed answer vouches for it.
    if (createHash('sha1').update(file).digest('hex') !== link.hash_value.toLowerCase()) {
      throw new ChannelUnavailableError(`bill ${day}: the file does not match its SHA1`);
    }
    try {
      return parseTradeBill(file.toString('utf8'));
    } catch (err) {
      if (err instanceof MoneyFormatError || err instanceof BillFormatError) {
        this.logger.error({ channel: this.name, day, err: err.message }, 'WeChat Pay trade bill unreadable');
        throw new ChannelUnavailableError(`bill ${day}: ${err.message}`);
      }
      throw err;
    }
  }

  async verifyCallback(
    rawBody: Buffer,
    header: (name: string) => string | undefined,
    nowMs: number,
  ): Promise<CallbackVerification> {
    const body = rawBody.toString('utf8');
    // The signature first, for every event type.
    const signature = verifySignature(header, body, this.keys, nowMs);
    if (!signature.ok) {
      return signature.reason === 'unknown_serial'
        ? { ok: false, reason: 'bad_signature', detail: 'no platform key has that Wechatpay-Serial' }
        : { ok: false, reason: signature.reason };
    }
    let eventType: unknown;
    try {
      eventType = (JSON.parse(body) as { event_type?: unknown }).event_type;
    } catch {
      return { ok: false, reason: 'malformed_body' };
    }
    if (typeof eventType === 'string' && eventType.startsWith('REFUND.')) return this.refundNotification(body);

    const verified = verifyNotification(rawBody, header, nowMs, {
      keys: this.keys,
      apiV3Key: this.config.apiV3Key,
      mchId: this.config.mchId,
      appId: this.config.appId,
      onUnknownState: (state) =>
        this.logger.error(
          { channel: this.name, channelStatus: state },
          'unknown WeChat Pay trade_state in a notification, treated as pending',
        ),
    });
    if (!verified.ok || !('callback' in verified)) return verified;
    // Our channel id is out_trade_no (see the top of this file); WeChat Pay's transaction_id stays in the payload.
    const outTradeNo = toOutTradeNo(verified.callback.paymentId);
    return { ...verified, callback: { ...verified.callback, channelPaymentId: outTradeNo } };
  }

  /** A refund notification: decrypted and checked for our merchant, then recorded and acknowledged, not signalled. */
  private refundNotification(body: string): CallbackVerification {
    const envelope = z
      .object({
        id: z.string().min(1).max(64),
        event_type: z.string(),
        create_time: z.string(),
        resource: z.object({
          algorithm: z.string(),
          ciphertext: z.string().min(1),
          nonce: z.string().min(1),
          associated_data: z.string().optional(),
        }),
      })
      .safeParse(JSON.parse(body));
    if (!envelope.success) return { ok: false, reason: 'malformed_body' };
    let refund: { mchid: string; out_trade_no: string; out_refund_no: string; refund_status: string };
    try {
      refund = z
        .object({ mchid: z.string(), out_trade_no: z.string(), out_refund_no: z.string(), refund_status: z.string() })
        .parse(JSON.parse(decryptResource(envelope.data.resource, this.config.apiV3Key)));
    } catch (err) {
      const detail = err instanceof ResourceDecryptionError ? 'the resource did not decrypt' : undefined;
      return { ok: false, reason: 'malformed_body', ...(detail ? { detail } : {}) };
    }
    if (refund.mchid !== this.config.mchId) return { ok: false, reason: 'wrong_merchant' };
    const paymentId = fromOutTradeNo(refund.out_trade_no);
    return {
      ok: true,
      ignored: envelope.data.event_type,
      eventId: envelope.data.id,
      ...(paymentId ? { paymentId } : {}),
      payload: {
        id: envelope.data.id,
        event_type: envelope.data.event_type,
        create_time: envelope.data.create_time,
        refund: {
          out_trade_no: refund.out_trade_no,
          out_refund_no: refund.out_refund_no,
          refund_status: refund.refund_status,
        },
      },
    };
  }

  /** WeChat Pay's rule: 200 or 204 means received (we answer 204, no body); else {"code":"FAIL"} and a retry. */
  answerCallback(result: CallbackResult): CallbackAnswer {
    if (result.ok) return { status: 204, contentType: 'text/plain', body: '' };
    return {
      status: result.status,
      contentType: 'application/json',
      body: JSON.stringify({ code: 'FAIL', message: result.message }),
    };
  }
}

// ---- the trade bill ------------------------------------------------------------------------------------------

export class BillFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BillFormatError';
  }
}

export interface BillRow {
  outTradeNo: string;
  transactionId: string;
  /** SUCCESS (a payment) or REFUND (a refund's own row). */
  state: string;
  currency: string;
  /** The order's amount (payment rows), fen. */
  amount: number;
  /** The refund asked for (refund rows), fen. */
  refundAmount: number;
  refundStatus: string;
  /** ISO 8601, from the bill's China time. */
  paidAt: string;
}

/** Yuan as the bill writes them ("25.99", some tools show "¥25.99"), exactly, in fen. */
function yuan(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  return fromDecimalString(text.replace(/^[¥￥]/, ''), 'CNY');
}

/**
 * The vendor's trade bill: a header line, rows whose every field starts with a backtick (so spreadsheets keep long
 * numbers as text), then a summary header (总交易单数,...) and its line. Columns are found by their header names,
 * not positions (the vendor says their order may change). A byte-order mark may lead; lines may end in CRLF.
 */
export function parseTradeBill(text: string): BillRow[] {
  const lines = text
    .replace(/^\ufeff/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0]!.split(',').map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const need = ['交易时间', '微信订单号', '商户订单号', '交易状态'];
  for (const name of need) if (col(name) < 0) throw new BillFormatError(`the bill has no column ${name}`);
  const rows: BillRow[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('总交易单数')) break; // the summary follows
    // Split on the backtick that starts every field, not on bare commas: a description (商品名称) may hold commas, and
    // the vendor does not quote it.
    const fields = line
      .replace(/^`/, '')
      .split(',`')
      .map((f) => f.trim());
    const get = (name: string) => (col(name) >= 0 ? fields[col(name)] : undefined);
    const time = get('交易时间') ?? '';
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(time)) throw new BillFormatError(`bad 交易时间 "${time}"`);
    rows.push({
      outTradeNo: get('商户订单号') ?? '',
      transactionId: get('微信订单号') ?? '',
      state: get('交易状态') ?? '',
      currency: get('货币种类') || 'CNY',
      amount: yuan(get('订单金额') ?? get('应结订单金额')),
      refundAmount: yuan(get('申请退款金额') ?? get('退款金额')),
      refundStatus: get('退款状态') ?? '',
      paidAt: new Date(`${time.replace(' ', 'T')}+08:00`).toISOString(),
    });
  }
  return rows;
}
