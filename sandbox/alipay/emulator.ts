// An Alipay OpenAPI v2 gateway emulator: Alipay's wire protocol over the shared emulated wallet (sandbox/wallet.ts:
// payments, refunds, the buyer's page, every fault). Built to be judged by the official alipay-sdk (test/integration/
// alipay.test.ts uses it as a client with validateSign: true, and its checkNotifySignV2 on our notifications).
//
//   POST /gateway.do   one endpoint, dispatching on `method`; the common parameters in the query string and/or the
//                      form body (the SDK puts app_id, method, sign, ... in the URL and biz_content in the body).
//                      Every request's RSA2 `sign` is checked with the app's public key; every reply is
//                      {"<method_with_underscores>_response": {...}, "sign": "..."} signed with Alipay's private key.
//     alipay.trade.precreate                       -> qr_code; idempotent on out_trade_no
//     alipay.trade.query                           -> trade_status WAIT_BUYER_PAY | TRADE_SUCCESS | TRADE_CLOSED
//     alipay.trade.close                           only while WAIT_BUYER_PAY, else ACQ.TRADE_STATUS_ERROR
//     alipay.trade.refund                          idempotent on out_request_no; a full refund closes the trade
//     alipay.trade.fastpay.refund.query            refund_status REFUND_SUCCESS, absent while processing
//     alipay.data.dataservice.bill.downloadurl.query  bill_type trade -> bill_download_url (GET /bill/download)
//   Notifications: POSTed form-encoded to the precreate's notify_url, signed (sign_type RSA2), retried on Alipay's
//   schedule (4m, 10m, 10m, 1h, 2h, 6h, 15h, times callbackRetryScale) until the answer is exactly `success`.
//
// As on the real platform, a precreated trade exists only once the buyer has scanned its code: until then query and
// close answer ACQ.TRADE_NOT_EXIST. Opening the wallet page (/pay/{trade_no}) or acting on it is the scan.
// Simplifications, each said where it is made: the QR code is the wallet page's URL; today's bill can be downloaded
// (Alipay cuts a day's bill the next morning); no TRADE_FINISHED (the end of the refund window is not modelled).
import { randomBytes, randomInt, type KeyObject } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { beijingDate, fromBeijingTime, toBeijingTime } from '../../channels/alipay/fields';
import { fromDecimalString, MoneyFormatError, toDecimalString } from '../../channels/money';
import type { Logger } from '../../observability/logger';
import {
  type Emulator,
  createWallet,
  type WalletFaults,
  type WalletPayment,
  type WalletRefund,
  type WalletStatus,
} from '../wallet';
import type { WalletStore } from '../wallet-store';
import { tradeBill } from './bill';
import { signNotification, signReply, verifyRequest } from './signing';

/** Alipay's notification retry schedule (seconds): 4m, 10m, 10m, 1h, 2h, 6h, 15h (about 25 hours in all). */
export const ALIPAY_NOTIFY_RETRY_SCHEDULE_S = [240, 600, 600, 3600, 7200, 21600, 54000];

type Key = KeyObject | string;

export interface AlipayEmulatorOptions {
  /** The merchant's app, and the key its requests are signed with (public half). */
  appId: string;
  appPublicKey: Key;
  /** The merchant's Alipay account (pid, 2088...), sent as seller_id. */
  sellerId: string;
  /** The platform's key: replies and notifications are signed with it. */
  alipayPrivateKey: Key;
  /** Base URL buyers (and bill downloads) reach the emulator on. */
  publicUrl: string;
  seed: string;
  faults?: Partial<WalletFaults>;
  /** Multiplies the notification retry schedule (e.g. 0.01 in tests). */
  callbackRetryScale?: number;
  /** How long a refund takes to go through. */
  refundDelayMs?: number;
  /** How long alipay.trade.refund waits for its refund before answering fund_change "N" (confirm by query). */
  refundAnswerWaitMs?: number;
  logger: Logger;
  /** Keeps the wallet's payments across a restart (sandbox/wallet-store.ts); in memory without one. */
  store?: WalletStore;
}

export type AlipayEmulator = Emulator;

/** The trade_status a wallet status shows as. A full refund closes an Alipay trade. */
export function tradeStatus(status: WalletStatus): string {
  switch (status) {
    case 'NOTPAY':
    case 'USERPAYING':
      return 'WAIT_BUYER_PAY';
    case 'SUCCESS':
      return 'TRADE_SUCCESS';
    case 'CLOSED':
    case 'PAYERROR':
    case 'REFUND':
      return 'TRADE_CLOSED';
  }
}

type Node = Record<string, string>;

const ok = (fields: Record<string, string | undefined> = {}): Node => {
  const node: Node = { code: '10000', msg: 'Success' };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) node[k] = v;
  return node;
};
const businessFailed = (subCode: string, subMsg: string): Node => ({
  code: '40004',
  msg: 'Business Failed',
  sub_code: subCode,
  sub_msg: subMsg,
});
const invalidArguments = (subCode: string, subMsg: string): Node => ({
  code: '40002',
  msg: 'Invalid Arguments',
  sub_code: subCode,
  sub_msg: subMsg,
});

const OUT_NO = /^[A-Za-z0-9_]{1,64}$/;
const YUAN = /^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$/;
const MAX_AMOUNT = 100_000_000_00; // 100,000,000.00 yuan: precreate's ceiling

/** "90m", "2h", "1d" (Alipay's timeout_express; "1c" = until the end of the day is read as 1d here). */
function timeoutExpress(text: string): number | undefined {
  const m = /^(\d{1,5})([mhdc])$/.exec(text);
  if (!m) return undefined;
  const unit = { m: 60_000, h: 3600_000, d: 86_400_000, c: 86_400_000 }[m[2] as 'm' | 'h' | 'd' | 'c'];
  return Number(m[1]) * unit;
}

export function createAlipayEmulator(options: AlipayEmulatorOptions): AlipayEmulator {
  const { logger, appId, sellerId } = options;
  const scale = options.callbackRetryScale ?? 1;
  // The protocol's own timers (refund notices, bill links) are the wallet's: stopped with it.
  const later = (ms: number, fn: () => void) => wallet.later(ms, fn);

  const paidFields = (p: WalletPayment): Record<string, string> => {
    const amount = toDecimalString(p.amount, 'CNY');
    return p.paidAt
      ? {
          receipt_amount: amount,
          invoice_amount: amount,
          buyer_pay_amount: amount,
          point_amount: '0.00',
          gmt_payment: toBeijingTime(Date.parse(p.paidAt)),
          // A JSON text inside a form field: quotes and braces that must survive encoding and signing.
          fund_bill_list: JSON.stringify([{ amount, fundChannel: 'ALIPAYACCOUNT' }]),
        }
      : {};
  };

  /** A notification's fields, unsigned: what Alipay posts for a trade_status change (and for refunds, below). */
  const notificationFields = (p: WalletPayment, notifyId: string): Record<string, string> => ({
    notify_id: notifyId,
    notify_time: toBeijingTime(Date.now()),
    notify_type: 'trade_status_sync',
    app_id: p.extra.appId ?? appId,
    auth_app_id: p.extra.appId ?? appId,
    charset: 'utf-8',
    version: '1.0',
    trade_no: p.channelPaymentId,
    out_trade_no: p.merchantOrderId,
    trade_status: tradeStatus(p.status),
    total_amount: toDecimalString(p.amount, 'CNY'),
    buyer_id: p.extra.buyerId ?? '',
    buyer_logon_id: p.extra.buyerLogonId ?? '',
    seller_id: sellerId,
    subject: p.description ?? '',
    gmt_create: toBeijingTime(Date.parse(p.createdAt)),
    ...paidFields(p),
    ...(p.closedAt ? { gmt_close: toBeijingTime(Date.parse(p.closedAt)) } : {}),
  });

  /** One delivery attempt of a notification, signed afresh (its notify_time is the attempt's). */
  const attempt = (p: WalletPayment, fields: () => Record<string, string>) => async () => {
    if (!p.notifyUrl) return { httpStatus: 0, accepted: true }; // no notify_url given: Alipay sends nothing
    const signed = signNotification({ ...fields(), notify_time: toBeijingTime(Date.now()) }, options.alipayPrivateKey);
    const res = await fetch(p.notifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(signed).toString(),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text().catch(() => '');
    // Alipay's rule: the merchant must answer the seven characters `success`; anything else is retried.
    return { httpStatus: res.status, accepted: res.status === 200 && text === 'success' };
  };

  const wallet = createWallet({
    title: 'Alipay (emulator)',
    idPrefix: '',
    // Alipay's trade_no: the date, "22001", then digits (28 in all).
    newId: () =>
      `${beijingDate(Date.now()).replace(/-/g, '')}22001${String(randomInt(1e8)).padStart(8, '0')}${String(randomInt(1e7)).padStart(7, '0')}`,
    merchantId: sellerId,
    publicUrl: options.publicUrl,
    seed: options.seed,
    ...(options.faults ? { faults: options.faults } : {}),
    retryScheduleS: ALIPAY_NOTIFY_RETRY_SCHEDULE_S,
    callbackRetryScale: scale,
    refundDelayMs: options.refundDelayMs ?? 200,
    logger,
    ...(options.store ? { store: options.store } : {}),
    notification: (p, eventId) => attempt(p, () => notificationFields(p, eventId)),
  });

  /**
   * Refund notices: Alipay notifies a refund too (trade_status as it now is, plus refund_fee, gmt_refund and
   * out_biz_no), retried on the same schedule. Not subject to the wallet's callback faults (those model payments').
   */
  function notifyRefund(
    p: WalletPayment,
    refund: WalletRefund,
    n = 1,
    notifyId = `rfd_${randomBytes(12).toString('hex')}`,
  ) {
    const refunded = p.refunds.filter((r) => r.status === 'SUCCESS').reduce((sum, r) => sum + r.amount, 0);
    const send = attempt(p, () => ({
      ...notificationFields(p, notifyId),
      out_biz_no: refund.refundKey,
      refund_fee: toDecimalString(refunded, 'CNY'),
      gmt_refund: toBeijingTime(Date.parse(refund.succeededAt ?? new Date().toISOString())),
    }));
    void send()
      .catch(() => ({ httpStatus: 0, accepted: false }))
      .then((outcome) => {
        p.deliveries.push({ eventId: notifyId, attempt: n, ...outcome, at: new Date().toISOString() });
        wallet.changed(p);
        const waitS = ALIPAY_NOTIFY_RETRY_SCHEDULE_S[n - 1];
        if (!outcome.accepted && waitS !== undefined) {
          later(waitS * 1000 * scale, () => notifyRefund(p, refund, n + 1, notifyId));
        }
      });
  }

  /** A trade the platform knows: scanned by the buyer, or paid (a precreated code nobody scanned is no trade yet). */
  const exists = (p: WalletPayment) => p.extra.scanned === '1' || p.status === 'SUCCESS' || p.status === 'REFUND';

  /** The trade a request names: trade_no wins over out_trade_no, as at Alipay. */
  const tradeOf = (biz: Record<string, unknown>): WalletPayment | undefined => {
    if (typeof biz.trade_no === 'string' && biz.trade_no) return wallet.find(biz.trade_no);
    if (typeof biz.out_trade_no === 'string' && biz.out_trade_no) return wallet.findByOrder(biz.out_trade_no);
    return undefined;
  };

  const NOT_EXIST = businessFailed('ACQ.TRADE_NOT_EXIST', '交易不存在');
  const bills = new Map<string, { day: string; expiresAt: number }>();

  const methods: Record<string, (biz: Record<string, unknown>, params: Node) => Promise<Node> | Node> = {
    async 'alipay.trade.precreate'(biz, params) {
      const outTradeNo = biz.out_trade_no;
      const total = typeof biz.total_amount === 'number' ? String(biz.total_amount) : biz.total_amount;
      const subject = biz.subject;
      if (typeof outTradeNo !== 'string' || !OUT_NO.test(outTradeNo)) {
        return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: out_trade_no');
      }
      if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) {
        return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: subject');
      }
      let amount: number;
      try {
        if (typeof total !== 'string' || !YUAN.test(total)) throw new MoneyFormatError('not yuan');
        amount = fromDecimalString(total, 'CNY');
      } catch {
        return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: total_amount');
      }
      if (amount < 1 || amount > MAX_AMOUNT) return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: total_amount');
      let expiresAt = Date.now() + 2 * 3600_000; // Alipay's default for an unscanned code
      if (typeof biz.time_expire === 'string') {
        const at = fromBeijingTime(biz.time_expire);
        if (!at) return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: time_expire');
        expiresAt = Date.parse(at);
      } else if (typeof biz.timeout_express === 'string') {
        const ms = timeoutExpress(biz.timeout_express);
        if (!ms) return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: timeout_express');
        expiresAt = Date.now() + ms;
      }
      const digits = String(randomInt(1e12)).padStart(12, '0');
      const created = wallet.create({
        merchantOrderId: outTradeNo,
        amount,
        currency: 'CNY',
        description: subject,
        notifyUrl: params.notify_url ?? '',
        extra: {
          appId: params.app_id!,
          buyerId: `2088${digits}`,
          buyerLogonId: `${digits.slice(0, 3)}****${digits.slice(-4)}`,
          expiresAt: String(expiresAt),
        },
      });
      if ('conflict' in created) return businessFailed('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
      const p = created.payment;
      if (p.status === 'SUCCESS' || p.status === 'REFUND')
        return businessFailed('ACQ.TRADE_HAS_SUCCESS', '交易已被支付');
      if (p.status === 'CLOSED' || p.status === 'PAYERROR')
        return businessFailed('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (created.created) await wallet.createLatency();
      // The real qr_code is https://qr.alipay.com/...; ours is the emulator's wallet page, so that scanning the code
      // (or opening it) in the demo reaches a page where the buyer can pay.
      return ok({ out_trade_no: outTradeNo, qr_code: `${options.publicUrl}/pay/${p.channelPaymentId}` });
    },

    async 'alipay.trade.query'(biz) {
      const key = String(biz.trade_no || biz.out_trade_no || '');
      if (!(await wallet.queryPasses(key))) {
        return {
          code: '20000',
          msg: 'Service Currently Unavailable',
          sub_code: 'ACQ.SYSTEM_ERROR',
          sub_msg: '系统错误',
        };
      }
      const p = tradeOf(biz);
      if (!p || !exists(p)) return NOT_EXIST;
      return ok({
        trade_no: p.channelPaymentId,
        out_trade_no: p.merchantOrderId,
        buyer_logon_id: p.extra.buyerLogonId,
        buyer_user_id: p.extra.buyerId,
        trade_status: tradeStatus(p.status),
        total_amount: toDecimalString(p.amount, 'CNY'),
        ...(p.paidAt
          ? {
              receipt_amount: toDecimalString(p.amount, 'CNY'),
              buyer_pay_amount: toDecimalString(p.amount, 'CNY'),
              invoice_amount: toDecimalString(p.amount, 'CNY'),
              point_amount: '0.00',
              send_pay_date: toBeijingTime(Date.parse(p.paidAt)),
            }
          : {}),
      });
    },

    'alipay.trade.close'(biz) {
      const p = tradeOf(biz);
      if (!p) return NOT_EXIST;
      if (!exists(p)) {
        // Never scanned: Alipay has no trade to close, and says so. The emulator voids the code anyway (as its
        // time_expire would), through the wallet's close and its faults: a buyer who scanned and paid at that very
        // moment wins the race (the trade now exists, paid), and a late settlement still happens.
        if (p.status === 'NOTPAY') wallet.close(p);
        if ((p.status as WalletStatus) === 'SUCCESS') return businessFailed('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        return NOT_EXIST;
      }
      if (p.status === 'NOTPAY' || p.status === 'USERPAYING') {
        wallet.close(p); // the close-race fault may have the buyer pay first
        if ((p.status as WalletStatus) === 'CLOSED')
          return ok({ trade_no: p.channelPaymentId, out_trade_no: p.merchantOrderId });
      }
      return businessFailed('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    },

    async 'alipay.trade.refund'(biz) {
      const p = tradeOf(biz);
      if (!p || !exists(p)) return NOT_EXIST;
      const refundAmount = typeof biz.refund_amount === 'number' ? String(biz.refund_amount) : biz.refund_amount;
      let amount: number;
      try {
        if (typeof refundAmount !== 'string' || !YUAN.test(refundAmount)) throw new MoneyFormatError('not yuan');
        amount = fromDecimalString(refundAmount, 'CNY');
      } catch {
        return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: refund_amount');
      }
      if (amount < 1) return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: refund_amount');
      // Without out_request_no, Alipay takes the trade's out_trade_no: one full refund per trade.
      const requestNo =
        typeof biz.out_request_no === 'string' && biz.out_request_no ? biz.out_request_no : p.merchantOrderId;
      if (requestNo.length > 64) return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: out_request_no');
      const r = wallet.refund(p, requestNo, amount);
      if (!r.ok) {
        if (r.error === 'payment_not_paid') return businessFailed('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
        if (r.error === 'refund_exceeds_payment')
          return businessFailed('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
        return businessFailed('ACQ.INVALID_PARAMETER', '参数无效: out_request_no 已用于另一金额的退款');
      }
      const refund = r.refund;
      if (r.created) {
        // Alipay answers a refund synchronously as a rule; ours takes refundDelayMs. Wait a moment for it, and if it
        // is still going through, answer fund_change "N", which Alipay documents as "confirm with the refund query".
        const deadline = Date.now() + (options.refundAnswerWaitMs ?? 1000);
        while (refund.status !== 'SUCCESS' && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
        const watch = () => {
          if (refund.status === 'SUCCESS') notifyRefund(p, refund);
          else later(50, watch);
        };
        watch();
      }
      const refunded = p.refunds.filter((x) => x.status === 'SUCCESS').reduce((sum, x) => sum + x.amount, 0);
      return ok({
        trade_no: p.channelPaymentId,
        out_trade_no: p.merchantOrderId,
        buyer_logon_id: p.extra.buyerLogonId,
        buyer_user_id: p.extra.buyerId,
        // "Y": this request moved money now. A repeated request, or one still going through, answers "N".
        fund_change: r.created && refund.status === 'SUCCESS' ? 'Y' : 'N',
        refund_fee: toDecimalString(refunded, 'CNY'),
        send_back_fee: toDecimalString(refund.status === 'SUCCESS' ? refund.amount : 0, 'CNY'),
        ...(refund.succeededAt ? { gmt_refund_pay: toBeijingTime(Date.parse(refund.succeededAt)) } : {}),
      });
    },

    'alipay.trade.fastpay.refund.query'(biz) {
      const p = tradeOf(biz);
      if (!p || !exists(p)) return NOT_EXIST;
      const requestNo =
        typeof biz.out_request_no === 'string' && biz.out_request_no ? biz.out_request_no : p.merchantOrderId;
      const refund = p.refunds.find((r) => r.refundKey === requestNo);
      // Alipay: success with no refund fields means "no such refund received"; refund_status only once it went through.
      if (!refund) return ok();
      const queryOptions: unknown[] = Array.isArray(biz.query_options) ? biz.query_options : [];
      return ok({
        trade_no: p.channelPaymentId,
        out_trade_no: p.merchantOrderId,
        out_request_no: refund.refundKey,
        total_amount: toDecimalString(p.amount, 'CNY'),
        refund_amount: toDecimalString(refund.amount, 'CNY'),
        ...(refund.status === 'SUCCESS' ? { refund_status: 'REFUND_SUCCESS' } : {}),
        ...(refund.succeededAt && queryOptions.includes('gmt_refund_pay')
          ? { gmt_refund_pay: toBeijingTime(Date.parse(refund.succeededAt)) }
          : {}),
      });
    },

    'alipay.data.dataservice.bill.downloadurl.query'(biz) {
      if (biz.bill_type !== 'trade') return businessFailed('isp.bill_type_not_support', '账单类型不支持');
      const day = typeof biz.bill_date === 'string' ? biz.bill_date : '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !Number.isFinite(Date.parse(`${day}T00:00:00+08:00`))) {
        return businessFailed('isv.invalid-parameter', '参数无效: bill_date');
      }
      // Simplification: today's bill is served (Alipay has a day's bill only from the next morning, T+1).
      if (day > beijingDate(Date.now())) return businessFailed('isp.bill_not_exist', '账单不存在');
      const token = randomBytes(16).toString('hex');
      bills.set(token, { day, expiresAt: Date.now() + 30_000 }); // Alipay's download URLs live 30 seconds
      return ok({ bill_download_url: `${options.publicUrl}/bill/download?token=${token}` });
    },
  };

  const app = express();
  app.disable('x-powered-by');

  const reply = (res: Response, method: string | undefined, node: Node) => {
    res.type('application/json;charset=utf-8');
    if (!method || !Object.hasOwn(methods, method)) {
      res.send(JSON.stringify({ error_response: node })); // no method to name the node after: unsigned, as Alipay does
      return;
    }
    res.send(signReply(method, node, options.alipayPrivateKey));
  };

  app.all('/gateway.do', express.urlencoded({ extended: false, limit: '64kb' }), async (req, res) => {
    const params: Node = {};
    const url = new URL(req.originalUrl, 'http://emulator');
    for (const [k, v] of url.searchParams) params[k] ??= v;
    for (const [k, v] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
      params[k] ??= Array.isArray(v) ? String(v[0]) : String(v);
    }
    const method = params.method;
    if (!method) {
      reply(res, undefined, {
        code: '40001',
        msg: 'Missing Required Arguments',
        sub_code: 'isv.missing-method',
        sub_msg: '缺少方法名参数',
      });
      return;
    }
    if (!Object.hasOwn(methods, method)) {
      reply(res, undefined, invalidArguments('isv.invalid-method', '不存在的方法名'));
      return;
    }
    if (params.app_id !== appId) {
      reply(res, method, invalidArguments('isv.invalid-app-id', '无效的AppID参数'));
      return;
    }
    if (!params.sign) {
      reply(res, method, {
        code: '40001',
        msg: 'Missing Required Arguments',
        sub_code: 'isv.missing-signature',
        sub_msg: '缺少签名参数',
      });
      return;
    }
    if (!verifyRequest(params, options.appPublicKey)) {
      logger.warn({ method }, 'alipay emulator: request signature did not verify');
      reply(
        res,
        method,
        invalidArguments('isv.invalid-signature', '验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配'),
      );
      return;
    }
    // Alipay checks the timestamp's form, not its zone: the SDK writes the client's local time, UTC on most servers.
    if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(params.timestamp ?? '')) {
      reply(res, method, invalidArguments('isv.invalid-timestamp', '非法的时间戳参数'));
      return;
    }
    if ((params.charset ?? 'utf-8').toLowerCase() !== 'utf-8') {
      reply(res, method, invalidArguments('isv.invalid-charset', '字符集错误'));
      return;
    }
    let biz: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(params.biz_content ?? '{}');
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      biz = parsed as Record<string, unknown>;
    } catch {
      reply(res, method, invalidArguments('isv.invalid-parameter', '参数无效: biz_content'));
      return;
    }
    const answer = await methods[method]!(biz, params);
    try {
      await wallet.flush(); // answered once what it changed is stored
    } catch {
      reply(res, method, {
        code: '20000',
        msg: 'Service Currently Unavailable',
        sub_code: 'ACQ.SYSTEM_ERROR',
        sub_msg: '系统错误',
      });
      return;
    }
    reply(res, method, answer);
  });

  app.get('/bill/download', (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const bill = bills.get(token);
    if (!bill || bill.expiresAt < Date.now()) {
      res.status(404).type('text/plain').send('the download link is unknown or has expired');
      return;
    }
    const archive = tradeBill(wallet.payments.values(), bill.day, {
      sellerId,
      buyerLogonId: (p) => p.extra.buyerLogonId ?? '',
    });
    res
      .type('application/octet-stream')
      .set('content-disposition', `attachment; filename="${sellerId}0156_${bill.day.replace(/-/g, '')}.csv.zip"`)
      .send(archive);
  });

  /** The buyer scanning the code: opening the wallet page or acting on it. A code past its expiry is dead. */
  const scan = async (req: Request, _res: Response, next: NextFunction) => {
    const p = wallet.find(String(req.params.id));
    if (p) {
      const before = `${p.extra.scanned}:${p.status}`;
      p.extra.scanned = '1';
      if (p.status === 'NOTPAY' && Number(p.extra.expiresAt) < Date.now()) {
        p.status = 'CLOSED';
        p.closedAt = new Date().toISOString();
      }
      if (`${p.extra.scanned}:${p.status}` !== before) {
        wallet.changed(p);
        // The scan made the trade exist for the merchant's queries: stored before the page answers. A failed store
        // is retried in the background (the wallet's), and the page is shown anyway.
        await wallet.flush().catch(() => undefined);
      }
    }
    next();
  };
  app.get('/pay/:id', scan);
  app.post('/wallet/:id/:action', scan);
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
