// WeChat Pay API v3 (direct merchant, Native payment) emulated: the vendor's wire protocol over the shared wallet
// (sandbox/wallet.ts: payments, refunds, the buyer's page, every fault). What makes it WeChat Pay is the cryptography
// and the words: every request must carry a valid WECHATPAY2-SHA256-RSA2048 Authorization made with the merchant's
// key (401 SIGN_ERROR otherwise), every reply is signed with the platform key (Wechatpay-Timestamp/-Nonce/-Signature/
// -Serial, Request-ID), errors are {"code","message"[,"detail"]}, notifications are signed and their resource
// AES-GCM-encrypted with the API v3 key. The vendor's Go SDK is the judge (test/unit/wechatpay-crosscheck.test.ts).
//
// Platform key, one of the two modes the vendor has (an option picks it):
//   certificate  Wechatpay-Serial is the platform certificate's serial; GET /v3/certificates serves it encrypted;
//   public_key   Wechatpay-Serial is a "WeChat Pay public key" id (PUB_KEY_ID_...), the newer mode without
//                certificates; /v3/certificates then has nothing to give (404 RESOURCE_NOT_EXISTS).
//
// Merchant API (all under /v3, all signed both ways):
//   POST /v3/pay/transactions/native                          prepay -> {code_url}; idempotent on out_trade_no
//   GET  /v3/pay/transactions/out-trade-no/{no}?mchid=        query (404 ORDER_NOT_EXIST)
//   GET  /v3/pay/transactions/id/{transaction_id}?mchid=      query a paid order by WeChat's id
//   POST /v3/pay/transactions/out-trade-no/{no}/close         204; ORDERPAID (400) if the buyer paid first
//   POST /v3/refund/domestic/refunds, GET /v3/refund/domestic/refunds/{out_refund_no}
//   GET  /v3/bill/tradebill?bill_date=YYYY-MM-DD               -> {download_url, hash_type SHA1, hash_value}
//   GET  /v3/billdownload/file?token=                          the bill (signed request; the reply is not signed, as
//                                                              the vendor's is not: its SHA1 is the check)
//   GET  /v3/certificates                                      certificate mode only
// Buyer and sandbox admin: the wallet's routes (/pay/{id}, /wallet/{id}/pay|decline, /admin/...).
//
// Notifications: TRANSACTION.SUCCESS to the order's notify_url, REFUND.SUCCESS to a refund's notify_url (if it gave
// one); accepted on 200 or 204 only, retried on the vendor's schedule (15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/
// 3h/6h/6h, times the wallet's scale), signed afresh on every attempt. WeChat Pay notifies successes only: a buyer's
// failed payment (PAYERROR) or a closed order is never notified, so the wallet's "failed" notice sends nothing (it is
// logged in the wallet's deliveries as accepted with HTTP status 0) and the merchant learns it by query, as it must.
//
// Deliberate departures, for a sandbox: code_url is the wallet page's URL (`${publicUrl}/pay/{transaction_id}`)
// rather than weixin://wxpay/bizpayurl?pr=..., so a phone camera scanning the demo's QR code opens the wallet; a
// bill can be asked for today (a live snapshot) where the vendor has it only after 10:00 the next day; the merchant's
// balance is not modelled (no NOT_ENOUGH); time_expire is kept but does not close the order (our workflow closes).
import { createHash, type KeyObject, randomBytes, randomInt, randomUUID, X509Certificate } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { encryptResource, PlatformKeys, signResponse, verifyAuthorization } from '../../channels/wechatpay/crypto';
import { toDecimalString } from '../../channels/money';
import type { WechatPayEmulatorConfig } from '../../config';
import type { Logger } from '../../observability/logger';
import { CALLBACK_RETRY_SCHEDULE_S } from '../sandboxpay';
import {
  type Emulator,
  createWallet,
  type NotificationAttempt,
  type WalletFaults,
  type WalletPayment,
  type WalletRefund,
  type WalletStatus,
} from '../wallet';
import type { WalletStore } from '../wallet-store';

export type WechatPayPlatform =
  | { mode: 'certificate'; privateKey: KeyObject | string; certificatePem: string }
  | { mode: 'public_key'; privateKey: KeyObject | string; publicKeyId: string };

export interface WechatPayEmulatorOptions {
  mchId: string;
  appId: string;
  apiV3Key: string;
  /** The merchant's API certificate serial(s) and public key(s): what requests are verified with. */
  merchantKeys: { serial: string; publicKeyPem: string }[];
  platform: WechatPayPlatform;
  /** Base URL buyers reach the wallet page on (the code_url points there). */
  publicUrl: string;
  seed: string;
  faults?: Partial<WalletFaults>;
  /** Multiplies the notification retry schedule (e.g. 0.01 in tests). */
  callbackRetryScale?: number;
  /** How long a refund stays PROCESSING. */
  refundDelayMs?: number;
  logger: Logger;
  /** Keeps the wallet's payments across a restart (sandbox/wallet-store.ts); in memory without one. */
  store?: WalletStore;
}

/** The emulator's options from its configuration section (config.sandbox.wechatpay), plus the sandbox's own. */
export function wechatPayEmulatorOptions(
  config: WechatPayEmulatorConfig,
  rest: Pick<
    WechatPayEmulatorOptions,
    'publicUrl' | 'seed' | 'faults' | 'callbackRetryScale' | 'refundDelayMs' | 'logger' | 'store'
  >,
): WechatPayEmulatorOptions {
  return {
    mchId: config.mchId,
    appId: config.appId,
    apiV3Key: config.apiV3Key,
    merchantKeys: [{ serial: config.merchantSerial, publicKeyPem: config.merchantPublicKey }],
    platform:
      config.platform.mode === 'certificate'
        ? { mode: 'certificate', privateKey: config.platformPrivateKey, certificatePem: config.platform.certificatePem }
        : { mode: 'public_key', privateKey: config.platformPrivateKey, publicKeyId: config.platform.publicKeyId },
    ...rest,
  };
}

export interface WechatPayEmulator extends Emulator {
  /** The Wechatpay-Serial every reply and notification carries. */
  platformSerial: string;
  /** The wallet's payment for an out_trade_no. */
  findByOutTradeNo(outTradeNo: string): WalletPayment | undefined;
  /** Refund notifications sent (REFUND.SUCCESS), for tests. */
  refundDeliveries: { outRefundNo: string; attempt: number; httpStatus: number; accepted: boolean }[];
}

// ---- the vendor's words -----------------------------------------------------------------------------------------

const TRADE_STATE_DESC: Record<WalletStatus, string> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '未支付',
  CLOSED: '已关闭',
  USERPAYING: '用户支付中（仅付款码支付会返回）',
  PAYERROR: '支付失败（仅付款码支付会返回）',
};

const paid = (p: WalletPayment) => p.status === 'SUCCESS' || p.status === 'REFUND';

/** RFC 3339 in China Standard Time, as the vendor writes every time: 2026-11-27T12:00:00+08:00. */
export function chinaTime(at: string | number | Date): string {
  const ms = new Date(at).getTime() + 8 * 3600_000;
  return `${new Date(ms).toISOString().slice(0, 19)}+08:00`;
}

/** "2026-11-27 12:00:00" (China time), as the bill writes it. */
const billTime = (at: string) => chinaTime(at).slice(0, 19).replace('T', ' ');

/** The China calendar day of an instant, YYYY-MM-DD. */
const chinaDay = (at: string) => chinaTime(at).slice(0, 10);

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const paramError = (field: string, issue: string, value?: unknown, location = 'body') =>
  new ApiError(400, 'PARAM_ERROR', `参数错误: ${field} ${issue}`, {
    field,
    ...(value !== undefined ? { value } : {}),
    issue,
    location,
  });

/** A zod failure as the vendor's PARAM_ERROR: the first bad field, as a JSON pointer. */
function fromZod(error: z.ZodError, location: string): ApiError {
  const issue = error.issues[0]!;
  return paramError(`/${issue.path.join('/')}`, issue.message, undefined, location);
}

const OUT_TRADE_NO = /^[0-9A-Za-z_\-|*]{6,32}$/;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$/;
const httpUrl = z.url({ protocol: /^https?$/ }).max(256);

const prepaySchema = z.object({
  appid: z.string().min(1).max(32),
  mchid: z.string().min(1).max(32),
  description: z.string().min(1).max(127),
  out_trade_no: z.string().regex(OUT_TRADE_NO, 'must be 6-32 of [0-9A-Za-z_-|*]'),
  time_expire: z.string().regex(RFC3339, 'must be RFC 3339').optional(),
  attach: z.string().max(128).optional(),
  notify_url: httpUrl,
  goods_tag: z.string().max(32).optional(),
  support_fapiao: z.boolean().optional(),
  amount: z.object({
    total: z.number().int().min(1),
    currency: z.literal('CNY', 'must be CNY').optional(),
  }),
});

const refundSchema = z
  .object({
    transaction_id: z.string().min(1).max(32).optional(),
    out_trade_no: z.string().regex(OUT_TRADE_NO).optional(),
    out_refund_no: z.string().regex(OUT_REFUND_NO, 'must be 1-64 of [0-9A-Za-z_-|*@]'),
    reason: z.string().max(80).optional(),
    notify_url: httpUrl.optional(),
    funds_account: z.string().optional(),
    amount: z.object({
      refund: z.number().int().min(1),
      total: z.number().int().min(1),
      currency: z.literal('CNY', 'must be CNY'),
    }),
  })
  .refine((r) => r.transaction_id || r.out_trade_no, {
    message: 'transaction_id or out_trade_no is required',
    path: ['out_trade_no'],
  });

/** 28 digits, as WeChat Pay's transaction ids are: 420000 + 4 + the China date + 10. */
function newTransactionId(): string {
  const digits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');
  return `420000${digits(4)}${chinaDay(new Date().toISOString()).replace(/-/g, '')}${digits(10)}`;
}

/** The bill's text fields: no comma, newline or backtick (they would break its columns). */
const billText = (text: string) => text.replace(/[,`\r\n]/g, ' ');

const BILL_HEADER_ALL =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
  '应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,' +
  '手续费,费率,订单金额,申请退款金额,费率备注';
const BILL_SUMMARY_HEADER =
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';
/** 0.6%, the usual rate; the fee is rounded half up to the fen (integer arithmetic). */
const feeOf = (amount: number) => Math.floor((amount * 6 + 500) / 1000);

export function createWechatPayEmulator(options: WechatPayEmulatorOptions): WechatPayEmulator {
  const { logger } = options;
  const merchantKeys = new PlatformKeys();
  for (const k of options.merchantKeys) merchantKeys.addPublicKey(k.serial, k.publicKeyPem);
  const platformSerial =
    options.platform.mode === 'certificate'
      ? new PlatformKeys().addCertificate(options.platform.certificatePem)
      : options.platform.publicKeyId;
  const platformKey = options.platform.privateKey;
  const scale = options.callbackRetryScale ?? 1;
  // The protocol's own timers (refund notices, bill links) are the wallet's: stopped with it.
  const later = (ms: number, fn: () => void) => wallet.later(ms, fn);

  const openid = (p: WalletPayment) =>
    `o${createHash('sha256').update(`${options.appId}:${p.channelPaymentId}`).digest('base64url').slice(0, 27)}`;

  /** The transaction resource: what a query answers and a TRANSACTION.SUCCESS notification carries. */
  function transaction(p: WalletPayment) {
    return {
      appid: p.extra.appid ?? options.appId,
      mchid: options.mchId,
      out_trade_no: p.merchantOrderId,
      // WeChat Pay's own id exists for the merchant once the buyer has paid; before, a query does not show it.
      ...(paid(p) ? { transaction_id: p.channelPaymentId } : {}),
      trade_type: 'NATIVE',
      trade_state: p.status,
      // A failed payment's desc says why, when the buyer's wallet said (the wallet page's decline reasons).
      trade_state_desc: p.status === 'PAYERROR' && p.reason ? p.reason : TRADE_STATE_DESC[p.status],
      ...(paid(p) ? { bank_type: 'OTHERS' } : {}),
      attach: p.extra.attach ?? '',
      ...(paid(p) && p.paidAt ? { success_time: chinaTime(p.paidAt) } : {}),
      ...(paid(p) ? { payer: { openid: openid(p) } } : {}),
      amount: {
        total: p.amount,
        ...(paid(p) ? { payer_total: p.amount } : {}),
        currency: p.currency,
        payer_currency: p.currency,
      },
    };
  }

  function refundResource(p: WalletPayment, r: WalletRefund) {
    return {
      refund_id: r.refundId,
      out_refund_no: r.refundKey,
      transaction_id: p.channelPaymentId,
      out_trade_no: p.merchantOrderId,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(r.succeededAt ? { success_time: chinaTime(r.succeededAt) } : {}),
      create_time: chinaTime(r.createdAt),
      status: r.status,
      funds_account: 'AVAILABLE',
      amount: {
        total: p.amount,
        refund: r.amount,
        from: [],
        payer_total: p.amount,
        payer_refund: r.amount,
        settlement_refund: r.amount,
        settlement_total: p.amount,
        discount_refund: 0,
        currency: p.currency,
        refund_fee: 0,
      },
      promotion_detail: [],
    };
  }

  /** Signed platform headers over `timestamp\nnonce\nbody\n`, fresh for every reply and every notification attempt. */
  function platformHeaders(body: string): Record<string, string> {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(16).toString('hex').toUpperCase();
    return {
      'Wechatpay-Timestamp': timestamp,
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': signResponse(platformKey, timestamp, nonce, body),
      'Wechatpay-Serial': platformSerial,
      'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    };
  }

  /** One notification event: encrypted once (its body is the same on every retry), signed per attempt. */
  function notificationAttempt(
    url: string,
    eventId: string,
    eventType: string,
    summary: string,
    originalType: 'transaction' | 'refund',
    resource: object,
  ): NotificationAttempt {
    const body = JSON.stringify({
      id: eventId,
      create_time: chinaTime(Date.now()),
      resource_type: 'encrypt-resource',
      event_type: eventType,
      summary,
      resource: {
        original_type: originalType,
        ...encryptResource(JSON.stringify(resource), options.apiV3Key, { associatedData: originalType }),
      },
    });
    return async () => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...platformHeaders(body) },
        body,
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer().catch(() => undefined);
      // The vendor's rule: 200 or 204 is "received"; anything else (other 2xx included) is retried.
      return { httpStatus: res.status, accepted: res.status === 200 || res.status === 204 };
    };
  }

  const wallet = createWallet({
    title: 'WeChat Pay (emulator)',
    idPrefix: '',
    newId: newTransactionId,
    merchantId: options.mchId,
    publicUrl: options.publicUrl,
    seed: options.seed,
    ...(options.faults ? { faults: options.faults } : {}),
    retryScheduleS: CALLBACK_RETRY_SCHEDULE_S,
    ...(options.callbackRetryScale !== undefined ? { callbackRetryScale: options.callbackRetryScale } : {}),
    ...(options.refundDelayMs !== undefined ? { refundDelayMs: options.refundDelayMs } : {}),
    logger,
    ...(options.store ? { store: options.store } : {}),
    notification(p, eventId, kind) {
      if (kind === 'failed') {
        // WeChat Pay does not notify failures; the merchant's query finds PAYERROR.
        return async () => ({ httpStatus: 0, accepted: true });
      }
      return notificationAttempt(
        p.notifyUrl,
        eventId,
        'TRANSACTION.SUCCESS',
        '支付成功',
        'transaction',
        transaction(p),
      );
    },
  });

  // ---- refund notifications (the wallet notifies payments only) --------------------------------------------------

  const refundDeliveries: WechatPayEmulator['refundDeliveries'] = [];
  const refundNotifyUrls = new Map<string, string>();

  function deliverRefund(outRefundNo: string, attempt: NotificationAttempt, n: number): void {
    void attempt()
      .catch(() => ({ httpStatus: 0, accepted: false }))
      .then((outcome) => {
        refundDeliveries.push({ outRefundNo, attempt: n, ...outcome });
        const waitS = CALLBACK_RETRY_SCHEDULE_S[n - 1];
        if (!outcome.accepted && waitS !== undefined) {
          later(waitS * 1000 * scale, () => deliverRefund(outRefundNo, attempt, n + 1));
        }
      });
  }

  /** Waits for the wallet to settle the refund, then notifies REFUND.SUCCESS if the merchant gave a notify_url. */
  function followRefund(p: WalletPayment, r: WalletRefund, waitMs: number): void {
    later(waitMs, () => {
      if (r.status !== 'SUCCESS') {
        followRefund(p, r, 50);
        return;
      }
      const url = refundNotifyUrls.get(r.refundKey);
      if (!url) return;
      const resource = {
        mchid: options.mchId,
        out_trade_no: p.merchantOrderId,
        transaction_id: p.channelPaymentId,
        out_refund_no: r.refundKey,
        refund_id: r.refundId,
        refund_status: r.status,
        success_time: chinaTime(r.succeededAt ?? Date.now()),
        user_received_account: '支付用户零钱',
        amount: { total: p.amount, refund: r.amount, payer_total: p.amount, payer_refund: r.amount },
      };
      const eventId = `EV-${randomUUID()}`;
      deliverRefund(
        r.refundKey,
        notificationAttempt(url, eventId, 'REFUND.SUCCESS', '退款成功', 'refund', resource),
        1,
      );
    });
  }

  // ---- bills -------------------------------------------------------------------------------------------------

  const bills = new Map<string, Buffer>();

  function tradeBill(day: string, type: 'ALL' | 'SUCCESS' | 'REFUND'): string | undefined {
    const money = (n: number) => toDecimalString(n, 'CNY');
    const rows: string[] = [];
    let settled = 0;
    let refunded = 0;
    let fees = 0;
    let ordered = 0;
    for (const p of wallet.payments.values()) {
      const common = (at: string) => [
        billTime(at),
        p.extra.appid ?? options.appId,
        options.mchId,
        '0',
        '',
        p.channelPaymentId,
        p.merchantOrderId,
        openid(p),
        'NATIVE',
      ];
      if (type !== 'REFUND' && p.paidAt && chinaDay(p.paidAt) === day) {
        const fee = feeOf(p.amount);
        settled += p.amount;
        ordered += p.amount;
        fees += fee;
        rows.push(
          [
            ...common(p.paidAt),
            'SUCCESS',
            'OTHERS',
            'CNY',
            money(p.amount),
            '0.00',
            '0',
            '0',
            '0.00',
            '0.00',
            '',
            '',
            billText(p.description ?? ''),
            billText(p.extra.attach ?? ''),
            money(fee),
            '0.60%',
            money(p.amount),
            '0.00',
            '',
          ]
            .map((f) => `\`${f}`)
            .join(','),
        );
      }
      if (type === 'SUCCESS') continue;
      for (const r of p.refunds) {
        if (chinaDay(r.createdAt) !== day) continue;
        const fee = feeOf(r.amount);
        refunded += r.amount;
        fees -= fee;
        rows.push(
          [
            ...common(r.createdAt),
            'REFUND',
            'OTHERS',
            'CNY',
            '0.00',
            '0.00',
            r.refundId,
            r.refundKey,
            money(r.amount),
            '0.00',
            'ORIGINAL',
            r.status,
            billText(p.description ?? ''),
            billText(p.extra.attach ?? ''),
            `-${money(fee)}`,
            '0.60%',
            '0.00',
            money(r.amount),
            '',
          ]
            .map((f) => `\`${f}`)
            .join(','),
        );
      }
    }
    if (rows.length === 0) return undefined;
    const fee = fees < 0 ? `-${money(-fees)}` : money(fees);
    const summary = [
      String(rows.length),
      money(settled),
      money(refunded),
      '0.00',
      fee,
      money(ordered),
      money(refunded),
    ];
    // A byte-order mark starts the vendor's file, and its lines end in CRLF.
    return `\ufeff${[BILL_HEADER_ALL, ...rows, BILL_SUMMARY_HEADER, summary.map((f) => `\`${f}`).join(',')].join('\r\n')}\r\n`;
  }

  // ---- the HTTP side -------------------------------------------------------------------------------------------

  const app = express();
  app.disable('x-powered-by');

  function reply(res: Response, status: number, body?: object): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.set({ ...platformHeaders(text), 'Request-ID': randomUUID() });
    if (body === undefined) res.status(status).end();
    else res.status(status).type('application/json').send(text);
  }

  const fail = (res: Response, err: ApiError) =>
    reply(res, err.status, { code: err.code, message: err.message, ...(err.detail ? { detail: err.detail } : {}) });

  // The raw bytes are what the merchant signed: read them before any parsing.
  app.use('/v3', express.raw({ type: () => true, limit: '64kb' }));
  app.use('/v3', (req: Request, res: Response, next: NextFunction) => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const check = verifyAuthorization(
      req.get('authorization'),
      { method: req.method, url: req.originalUrl, body },
      merchantKeys,
      Date.now(),
    );
    if (!check.ok || check.mchId !== options.mchId) {
      const why = check.ok ? 'mchid does not own that certificate serial' : check.reason;
      logger.debug({ reason: why, path: req.path }, 'WeChat Pay emulator: request signature refused');
      fail(res, new ApiError(401, 'SIGN_ERROR', `签名错误，请检查后再试 (${why})`));
      return;
    }
    res.locals.body = body;
    next();
  });

  const json = (res: Response): unknown => {
    try {
      return JSON.parse(res.locals.body as string);
    } catch {
      throw new ApiError(400, 'PARAM_ERROR', '参数错误: the body is not JSON');
    }
  };
  const checkMchid = (mchid: unknown, location: 'query' | 'body') => {
    if (typeof mchid !== 'string' || mchid === '') throw paramError('mchid', 'is required', undefined, location);
    if (mchid !== options.mchId) throw paramError('mchid', 'is not the requesting merchant', mchid, location);
  };
  const handle = (fn: (req: Request, res: Response) => Promise<void> | void) => async (req: Request, res: Response) => {
    try {
      await fn(req, res);
    } catch (err) {
      if (err instanceof ApiError) fail(res, err);
      else {
        logger.error({ err }, 'WeChat Pay emulator: unexpected error');
        fail(res, new ApiError(500, 'SYSTEM_ERROR', '系统错误'));
      }
    }
  };
  const systemError = () => new ApiError(500, 'SYSTEM_ERROR', '系统异常，请稍后重试');
  const orderNotExist = () => new ApiError(404, 'ORDER_NOT_EXIST', '订单不存在');

  app.post(
    '/v3/pay/transactions/native',
    handle(async (_req, res) => {
      const parsed = prepaySchema.safeParse(json(res));
      if (!parsed.success) throw fromZod(parsed.error, 'body');
      const o = parsed.data;
      checkMchid(o.mchid, 'body');
      if (o.appid !== options.appId) throw new ApiError(400, 'APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配');
      const created = wallet.create({
        merchantOrderId: o.out_trade_no,
        amount: o.amount.total,
        currency: o.amount.currency ?? 'CNY',
        description: o.description,
        notifyUrl: o.notify_url,
        extra: {
          appid: o.appid,
          ...(o.attach ? { attach: o.attach } : {}),
          ...(o.time_expire ? { timeExpire: o.time_expire } : {}),
        },
      });
      if ('conflict' in created) {
        throw new ApiError(400, 'INVALID_REQUEST', '商户订单号重复: out_trade_no exists with other parameters');
      }
      const p = created.payment;
      if (!created.created) {
        if (paid(p)) throw new ApiError(400, 'ORDERPAID', '该订单已支付');
        if (p.status === 'CLOSED') throw new ApiError(400, 'ORDER_CLOSED', '订单已关闭');
        if (p.status === 'PAYERROR') throw new ApiError(403, 'TRADE_ERROR', '交易错误: the buyer failed to pay');
      } else {
        await wallet.createLatency();
      }
      await wallet.flush(); // answered once stored; a failed store is the vendor's SYSTEM_ERROR (retried)
      // The sandbox's code_url is the wallet page (not weixin://wxpay/bizpayurl?pr=...): scanned, it opens the wallet.
      reply(res, 200, { code_url: `${options.publicUrl}/pay/${p.channelPaymentId}` });
    }),
  );

  app.get(
    '/v3/pay/transactions/out-trade-no/:outTradeNo',
    handle(async (req, res) => {
      checkMchid(req.query.mchid, 'query');
      const outTradeNo = String(req.params.outTradeNo);
      if (!(await wallet.queryPasses(outTradeNo))) throw systemError();
      const p = wallet.findByOrder(outTradeNo);
      if (!p) throw orderNotExist();
      reply(res, 200, transaction(p));
    }),
  );

  app.get(
    '/v3/pay/transactions/id/:transactionId',
    handle(async (req, res) => {
      checkMchid(req.query.mchid, 'query');
      const id = String(req.params.transactionId);
      if (!(await wallet.queryPasses(id))) throw systemError();
      const p = wallet.find(id);
      // An unpaid order has no transaction id the merchant could know: only out_trade_no finds it.
      if (!p || !paid(p)) throw orderNotExist();
      reply(res, 200, transaction(p));
    }),
  );

  app.post(
    '/v3/pay/transactions/out-trade-no/:outTradeNo/close',
    handle(async (req, res) => {
      checkMchid((json(res) as { mchid?: unknown } | null)?.mchid, 'body');
      const p = wallet.findByOrder(String(req.params.outTradeNo));
      if (!p) throw orderNotExist();
      wallet.close(p); // subject to the close-race fault: the buyer may pay just before
      await wallet.flush();
      if (paid(p)) throw new ApiError(400, 'ORDERPAID', '订单已支付');
      reply(res, 204);
    }),
  );

  app.post(
    '/v3/refund/domestic/refunds',
    handle(async (_req, res) => {
      const parsed = refundSchema.safeParse(json(res));
      if (!parsed.success) throw fromZod(parsed.error, 'body');
      const r = parsed.data;
      const p = r.transaction_id ? wallet.find(r.transaction_id) : wallet.findByOrder(r.out_trade_no!);
      if (!p || (r.out_trade_no && p.merchantOrderId !== r.out_trade_no)) {
        throw new ApiError(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
      }
      if (r.amount.total !== p.amount) throw paramError('/amount/total', 'is not the order total', r.amount.total);
      const result = wallet.refund(p, r.out_refund_no, r.amount.refund);
      await wallet.flush();
      if (!result.ok) {
        const message = {
          payment_not_paid: '订单未支付，不能退款',
          refund_exceeds_payment: '申请退款金额超过订单可退金额',
          refund_key_conflict: '退款单号已存在，且请求参数与之前不一致',
        }[result.error];
        throw new ApiError(400, 'INVALID_REQUEST', message);
      }
      if (result.created) {
        if (r.notify_url) refundNotifyUrls.set(r.out_refund_no, r.notify_url);
        followRefund(p, result.refund, (options.refundDelayMs ?? 2000) + 10);
      }
      reply(res, 200, refundResource(p, result.refund));
    }),
  );

  app.get(
    '/v3/refund/domestic/refunds/:outRefundNo',
    handle((req, res) => {
      const found = wallet.findRefund(String(req.params.outRefundNo));
      if (!found || found.refund.refundKey !== req.params.outRefundNo) {
        throw new ApiError(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
      }
      reply(res, 200, refundResource(found.payment, found.refund));
    }),
  );

  app.get(
    '/v3/bill/tradebill',
    handle((req, res) => {
      const day = typeof req.query.bill_date === 'string' ? req.query.bill_date : '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00+08:00`))) {
        throw paramError('bill_date', 'must be a date YYYY-MM-DD', day, 'query');
      }
      const type = req.query.bill_type ?? 'ALL';
      if (type !== 'ALL' && type !== 'SUCCESS' && type !== 'REFUND') {
        throw paramError('bill_type', 'must be ALL, SUCCESS or REFUND', type, 'query');
      }
      if (day > chinaDay(new Date().toISOString())) throw paramError('bill_date', 'is in the future', day, 'query');
      const text = tradeBill(day, type);
      if (text === undefined) throw new ApiError(400, 'NO_STATEMENT_EXIST', '账单文件不存在');
      const gzip = req.query.tar_type === 'GZIP';
      const file = gzip ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
      const token = randomBytes(24).toString('base64url');
      bills.set(token, file);
      later(10 * 60_000, () => bills.delete(token)); // the vendor's links expire too
      reply(res, 200, {
        hash_type: 'SHA1',
        hash_value: createHash('sha1').update(file).digest('hex'),
        download_url: `${req.protocol}://${req.get('host')}/v3/billdownload/file?token=${token}`,
      });
    }),
  );

  app.get(
    '/v3/billdownload/file',
    handle((req, res) => {
      const file = bills.get(String(req.query.token ?? ''));
      if (!file) throw new ApiError(400, 'INVALID_REQUEST', '账单下载链接已失效');
      // Not signed, as the vendor's is not: the hash in the tradebill answer (which is signed) vouches for it.
      res.set('Request-ID', randomUUID()).type('application/octet-stream').send(file);
    }),
  );

  app.get(
    '/v3/certificates',
    handle((_req, res) => {
      if (options.platform.mode !== 'certificate') {
        throw new ApiError(404, 'RESOURCE_NOT_EXISTS', '无可用的平台证书，请使用微信支付公钥验签');
      }
      const { certificatePem } = options.platform;
      const cert = new X509Certificate(certificatePem);
      reply(res, 200, {
        data: [
          {
            serial_no: platformSerial,
            effective_time: chinaTime(cert.validFrom),
            expire_time: chinaTime(cert.validTo),
            encrypt_certificate: encryptResource(certificatePem, options.apiV3Key, { associatedData: 'certificate' }),
          },
        ],
      });
    }),
  );

  app.use('/v3', (_req, res) => fail(res, new ApiError(404, 'NOT_FOUND', '请求的资源不存在')));
  app.use(wallet.router());

  return {
    app,
    wallet,
    payments: wallet.payments,
    platformSerial,
    faults: wallet.faults,
    setFaults: wallet.setFaults,
    findByOutTradeNo: wallet.findByOrder,
    refundDeliveries,
    stop: wallet.stop,
  };
}
