// The WeChat Pay adapter against the WeChat Pay emulator, over real HTTP with real v3 cryptography both ways: the
// adapter signs with the merchant key and believes only replies signed with the platform key; the emulator believes
// only requests signed with the merchant key. Notifications reach a small receiver that verifies them with the
// adapter and answers with the adapter's own words, as the API does.
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { parseTradeBill, toOutRefundNo, WechatPayChannel } from '../../channels/wechatpay/adapter';
import { authorization, decryptResource, verifySignature, PlatformKeys } from '../../channels/wechatpay/crypto';
import { toOutTradeNo } from '../../channels/wechatpay/notification';
import { ChannelUnavailableError, type CallbackVerification } from '../../channels/types';
import { platformNotification } from '../support/wechatpay';
import { type RunningWechatPay, runWechatPayEmulator } from '../support/wechatpay-emulator';

const silent = pino({ level: 'silent' });

interface Received {
  headers: Record<string, string>;
  body: string;
  verdict: CallbackVerification;
  status: number;
}

/** A merchant's notify endpoint: verifies with the adapter, answers as the adapter says (or as the test forces). */
async function receiver(channel: () => WechatPayChannel) {
  const received: Received[] = [];
  let force: number[] = [];
  const app = express();
  app.post('/notify', express.raw({ type: () => true }), async (req, res) => {
    const raw = req.body as Buffer;
    const verdict = await channel().verifyCallback(raw, (n) => req.get(n), Date.now());
    const forced = force.shift();
    const answer = channel().answerCallback(
      forced
        ? { ok: false, status: forced, code: 'unavailable', message: 'not now' }
        : verdict.ok
          ? { ok: true, duplicate: false, outcome: 'accepted' }
          : { ok: false, status: 401, code: 'unauthorized', message: verdict.reason },
    );
    received.push({
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      body: raw.toString('utf8'),
      verdict,
      status: answer.status,
    });
    res.status(answer.status).type(answer.contentType).send(answer.body);
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    received,
    failNext: (...statuses: number[]) => {
      force = statuses;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A man in the middle between the adapter and the channel that rewrites reply bodies (signature headers kept). */
async function tamperingProxy(target: string, rewrite: (body: string) => string) {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const upstream = httpRequest(
        `${target}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => {
            const body = rewrite(Buffer.concat(parts).toString('utf8'));
            const headers = { ...up.headers, 'content-length': String(Buffer.byteLength(body)) };
            res.writeHead(up.statusCode ?? 502, headers).end(body);
          });
        },
      );
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function eventually<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the WeChat Pay adapter against the emulator ("WeChat Pay public key" mode)', () => {
  let w: RunningWechatPay;
  let notify: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    w = await runWechatPayEmulator({ mode: 'public_key' });
    notify = await receiver(() => w.channel);
  });
  afterAll(async () => {
    await notify?.close();
    await w?.stop();
  });
  afterEach(() => {
    w.emulator.setFaults({ queryErrorRate: 0, queryTimeoutRate: 0, closeRacePayRate: 0, callbackDropRate: 0 });
  });

  const newPayment = async (amount = 2599) => {
    const paymentId = randomUUID();
    const created = await w.channel.create({
      paymentId,
      amount,
      currency: 'CNY',
      description: `order ${paymentId}`,
      notifyUrl: notify.url,
    });
    if (created.outcome !== 'created') throw new Error(`not created: ${created.reason}`);
    const walletPayment = w.emulator.findByOutTradeNo(toOutTradeNo(paymentId))!;
    return { paymentId, created, walletPayment };
  };
  const buyer = (transactionId: string, action: 'pay' | 'decline', reason?: string) =>
    fetch(`${w.url}/wallet/${transactionId}/${action}`, {
      method: 'POST',
      ...(reason ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason }) } : {}),
    });

  /** A request signed with the merchant's real key, for calling the emulator the way the adapter does not. */
  const merchant = () => ({
    mchId: w.env.WECHATPAY_MCHID!,
    serialNo: w.env.WECHATPAY_MERCHANT_SERIAL!,
    privateKey: createPrivateKey(readFileSync(w.env.WECHATPAY_MERCHANT_PRIVATE_KEY_FILE!, 'utf8')),
  });
  const platformKeys = () => {
    const keys = new PlatformKeys();
    keys.addPublicKey(w.env.WECHATPAY_PUBLIC_KEY_ID!, readFileSync(w.env.WECHATPAY_PUBLIC_KEY_FILE!, 'utf8'));
    return keys;
  };
  const signedFetch = (method: string, path: string, body?: object, identity = merchant()) => {
    const text = body ? JSON.stringify(body) : '';
    return fetch(`${w.url}${path}`, {
      method,
      headers: {
        authorization: authorization(identity, { method, url: path, body: text }),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: text } : {}),
    });
  };

  it('creates a Native order: a QR code whose content is the wallet page, idempotent on out_trade_no', async () => {
    const { paymentId, created, walletPayment } = await newPayment();
    expect(created.channelPaymentId).toBe(toOutTradeNo(paymentId));
    expect(created.handoff).toEqual({
      kind: 'qr_code',
      codeUrl: `${w.url}/pay/${walletPayment.channelPaymentId}`,
      pageUrl: `${w.url}/pay/${walletPayment.channelPaymentId}`,
    });
    expect(walletPayment.channelPaymentId).toMatch(/^4200\d{24}$/);
    const again = await w.channel.create({ paymentId, amount: 2599, currency: 'CNY', notifyUrl: notify.url });
    expect(again).toEqual(created);
    expect((await fetch(`${w.url}/pay/${walletPayment.channelPaymentId}`)).status).toBe(200);
  });

  it('refuses what WeChat Pay would: another currency (without asking), another amount for the same order', async () => {
    const paymentId = randomUUID();
    expect(await w.channel.create({ paymentId, amount: 100, currency: 'USD', notifyUrl: notify.url })).toEqual({
      outcome: 'rejected',
      reason: 'WeChat Pay takes CNY only, not USD',
    });
    expect(w.emulator.findByOutTradeNo(toOutTradeNo(paymentId))).toBeUndefined();
    const { paymentId: existing } = await newPayment();
    const conflict = await w.channel.create({
      paymentId: existing,
      amount: 1,
      currency: 'CNY',
      notifyUrl: notify.url,
    });
    expect(conflict).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/^INVALID_REQUEST: /) });
  });

  it('answers PARAM_ERROR with the field, in the vendor error shape, signed', async () => {
    const res = await signedFetch('POST', '/v3/pay/transactions/native', {
      appid: w.env.WECHATPAY_APPID,
      mchid: w.env.WECHATPAY_MCHID,
      description: 'x',
      out_trade_no: 'short', // 5 characters: the vendor wants 6 to 32
      notify_url: notify.url,
      amount: { total: 1, currency: 'CNY' },
    });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({
      code: 'PARAM_ERROR',
      detail: { field: '/out_trade_no', location: 'body' },
    });
    expect(verifySignature((n) => res.headers.get(n) ?? undefined, text, platformKeys(), Date.now())).toEqual({
      ok: true,
    });
    expect(res.headers.get('request-id')).toBeTruthy();
  });

  it('queries by out_trade_no: NOTPAY is pending; once paid, SUCCESS with the amount and the time', async () => {
    const { paymentId, walletPayment } = await newPayment();
    expect(await w.channel.query({ paymentId })).toEqual({
      state: 'PENDING',
      channelStatus: 'NOTPAY',
      channelPaymentId: toOutTradeNo(paymentId),
      amount: 2599,
      currency: 'CNY',
    });
    expect((await buyer(walletPayment.channelPaymentId, 'pay')).status).toBe(200);
    const paid = await w.channel.query({ paymentId });
    expect(paid).toMatchObject({ state: 'SUCCESS', channelStatus: 'SUCCESS', amount: 2599, currency: 'CNY' });
    // success_time has whole seconds, in China time.
    expect(paid.paidAt).toBe(new Date(Math.floor(Date.parse(walletPayment.paidAt!) / 1000) * 1000).toISOString());
    expect(await w.channel.query({ paymentId: randomUUID() })).toEqual({
      state: 'NOT_FOUND',
      channelStatus: 'ORDER_NOT_EXIST',
    });
    // WeChat Pay's own id finds a paid order too; the query shows times in China time.
    const byId = await signedFetch(
      'GET',
      `/v3/pay/transactions/id/${walletPayment.channelPaymentId}?mchid=${w.env.WECHATPAY_MCHID}`,
    );
    expect(await byId.json()).toMatchObject({
      transaction_id: walletPayment.channelPaymentId,
      trade_state: 'SUCCESS',
      trade_state_desc: '支付成功',
      success_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/),
      payer: { openid: expect.stringMatching(/^o/) },
      amount: { total: 2599, payer_total: 2599, currency: 'CNY', payer_currency: 'CNY' },
    });
  });

  it('a buyer who fails to pay: PAYERROR is FAILED by query, with why (trade_state_desc), and no notification', async () => {
    const { paymentId, walletPayment } = await newPayment();
    const before = notify.received.length;
    expect((await buyer(walletPayment.channelPaymentId, 'decline', 'card expired')).status).toBe(200);
    expect(await w.channel.query({ paymentId })).toMatchObject({
      state: 'FAILED',
      channelStatus: 'PAYERROR',
      reason: 'card expired',
    });
    // A reason the wallet does not offer is refused, naming the field.
    const other = await newPayment();
    const refused = await buyer(other.walletPayment.channelPaymentId, 'decline', 'bored');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ fields: ['reason'] });
    await new Promise((r) => setTimeout(r, 200));
    expect(notify.received.length).toBe(before);
  });

  it('closes an unpaid order (204, then the query: CLOSED), again harmlessly; a closed order cannot be re-created', async () => {
    const { paymentId } = await newPayment();
    expect(await w.channel.close({ paymentId })).toMatchObject({ state: 'CLOSED', channelStatus: 'CLOSED' });
    expect(await w.channel.query({ paymentId })).toMatchObject({ state: 'CLOSED', reason: '已关闭' });
    expect(await w.channel.close({ paymentId })).toMatchObject({ state: 'CLOSED' });
    expect(await w.channel.create({ paymentId, amount: 2599, currency: 'CNY', notifyUrl: notify.url })).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringMatching(/^ORDER_CLOSED/),
    });
    expect(await w.channel.close({ paymentId: randomUUID() })).toEqual({
      state: 'NOT_FOUND',
      channelStatus: 'ORDER_NOT_EXIST',
    });
  });

  it('a close that loses the race with the buyer: ORDERPAID, and the adapter answers SUCCESS', async () => {
    w.emulator.setFaults({ closeRacePayRate: 1 });
    const { paymentId } = await newPayment();
    const res = await signedFetch('POST', `/v3/pay/transactions/out-trade-no/${toOutTradeNo(paymentId)}/close`, {
      mchid: w.env.WECHATPAY_MCHID,
    });
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([400, 'ORDERPAID']);
    expect(await w.channel.close({ paymentId })).toMatchObject({ state: 'SUCCESS', channelStatus: 'SUCCESS' });
  });

  it('query faults are retryable: a system error, or a hang past the timeout', async () => {
    const { paymentId } = await newPayment();
    w.emulator.setFaults({ queryErrorRate: 1 });
    await expect(w.channel.query({ paymentId })).rejects.toThrow(/HTTP 500 SYSTEM_ERROR/);
    w.emulator.setFaults({ queryErrorRate: 0, queryTimeoutRate: 1, queryTimeoutMs: 2000 });
    const impatient = new WechatPayChannel({ ...w.config.channels.wechatpay!, timeoutMs: 300 }, silent);
    await expect(impatient.query({ paymentId })).rejects.toBeInstanceOf(ChannelUnavailableError);
  });

  it('refunds (idempotent on the refund key), follows the refund to SUCCESS, refuses too much', async () => {
    const { paymentId, walletPayment } = await newPayment();
    const notPaid = await w.channel.refund({
      paymentId,
      channelPaymentId: toOutTradeNo(paymentId),
      refundKey: `refund-${paymentId}`,
      amount: 100,
    });
    expect(notPaid).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/^INVALID_REQUEST/) });
    await buyer(walletPayment.channelPaymentId, 'pay');
    const request = {
      paymentId,
      channelPaymentId: toOutTradeNo(paymentId),
      refundKey: `refund-${paymentId}`,
      amount: 2599,
    };
    const accepted = await w.channel.refund(request);
    expect(accepted).toEqual({ outcome: 'accepted', refundId: `refund-${paymentId}`, state: 'PROCESSING' });
    expect(await w.channel.refund(request)).toEqual(accepted);
    const ref = { channelPaymentId: toOutTradeNo(paymentId), refundId: `refund-${paymentId}` };
    expect(await w.channel.queryRefund(ref)).toBe('PROCESSING');
    await eventually('the refund to succeed', () => walletPayment.refunds[0]?.status === 'SUCCESS');
    expect(await w.channel.queryRefund(ref)).toBe('SUCCESS');
    expect(await w.channel.refund({ ...request, refundKey: `more-${paymentId}`, amount: 1 })).toMatchObject({
      outcome: 'rejected',
    });
    expect(await w.channel.queryRefund({ ...ref, refundId: 'no-such-refund' })).toBe('NOT_FOUND');
    // A refund key that does not fit out_refund_no (a colon, 70 characters) travels as a stable digest.
    const odd = `x:${'y'.repeat(68)}`;
    expect(toOutRefundNo(odd)).toMatch(/^rk_[0-9a-f]{48}$/);
    expect(toOutRefundNo(odd)).toBe(toOutRefundNo(odd));
    expect(toOutRefundNo(`refund-${paymentId}`)).toBe(`refund-${paymentId}`);
  });

  it('reads the statement from the trade bills: paid orders, their refunds, exact amounts', async () => {
    const a = await newPayment(2599);
    const b = await newPayment(10);
    const unpaid = await newPayment(777);
    await buyer(a.walletPayment.channelPaymentId, 'pay');
    await buyer(b.walletPayment.channelPaymentId, 'pay');
    await w.channel.refund({
      paymentId: a.paymentId,
      channelPaymentId: toOutTradeNo(a.paymentId),
      refundKey: `refund-${a.paymentId}`,
      amount: 1000,
    });
    await eventually('the refund to succeed', () => a.walletPayment.refunds[0]?.status === 'SUCCESS');
    const from = new Date(Date.now() - 60_000);
    const to = new Date(Date.now() + 1000);
    const entries = await w.channel.statement({ from, to });
    const byId = new Map(entries.map((e) => [e.paymentId, e]));
    expect(byId.get(a.paymentId)).toEqual({
      channelPaymentId: toOutTradeNo(a.paymentId),
      paymentId: a.paymentId,
      amount: 2599,
      currency: 'CNY',
      paidAt: new Date(Math.floor(Date.parse(a.walletPayment.paidAt!) / 1000) * 1000).toISOString(),
      refundedAmount: 1000,
    });
    expect(byId.get(b.paymentId)).toMatchObject({ amount: 10, refundedAmount: 0 });
    expect(byId.has(unpaid.paymentId)).toBe(false);
    // Long ago: no bill (NO_STATEMENT_EXIST) is no entries, not an error.
    expect(
      await w.channel.statement({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-03T00:00:00Z') }),
    ).toEqual([]);
  });

  it('the bill is the documented text: header, backtick fields, summary; gzip on request', async () => {
    const { walletPayment } = await newPayment(2599);
    await buyer(walletPayment.channelPaymentId, 'pay');
    const day = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    const link = (await (await signedFetch('GET', `/v3/bill/tradebill?bill_date=${day}`)).json()) as {
      download_url: string;
      hash_type: string;
    };
    expect(link.hash_type).toBe('SHA1');
    const url = new URL(link.download_url);
    const file = await (await signedFetch('GET', url.pathname + url.search)).text();
    const lines = file.replace(/^\ufeff/, '').split('\r\n');
    expect(lines[0]).toMatch(/^交易时间,公众账号ID,商户号,/);
    expect(lines.find((l) => l.includes(walletPayment.channelPaymentId))).toMatch(
      new RegExp(`^\`\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\`${w.env.WECHATPAY_APPID},.*,\`SUCCESS,.*,\`25\\.99,`),
    );
    expect(lines[lines.length - 3]).toMatch(/^总交易单数,/);
    expect(parseTradeBill(file).find((r) => r.transactionId === walletPayment.channelPaymentId)).toMatchObject({
      state: 'SUCCESS',
      amount: 2599,
    });
    const unsigned = await fetch(link.download_url);
    expect(unsigned.status).toBe(401);
    const zipped = (await (await signedFetch('GET', `/v3/bill/tradebill?bill_date=${day}&tar_type=GZIP`)).json()) as {
      download_url: string;
      hash_value: string;
    };
    const zurl = new URL(zipped.download_url);
    const gz = Buffer.from(await (await signedFetch('GET', zurl.pathname + zurl.search)).arrayBuffer());
    expect(createHash('sha1').update(gz).digest('hex')).toBe(zipped.hash_value);
    expect(gunzipSync(gz).toString('utf8')).toMatch(/^\ufeff交易时间,/);
  });

  it('refuses unsigned requests and requests signed with another key: 401 SIGN_ERROR', async () => {
    const path = `/v3/pay/transactions/out-trade-no/${toOutTradeNo(randomUUID())}?mchid=${w.env.WECHATPAY_MCHID}`;
    const unsigned = await fetch(`${w.url}${path}`);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ code: 'SIGN_ERROR', message: expect.any(String) });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const forged = await signedFetch('GET', path, undefined, { ...merchant(), privateKey: stranger });
    expect(forged.status).toBe(401);
    // A signature for another URL does not open this one.
    const other = await fetch(`${w.url}${path}`, {
      headers: { authorization: authorization(merchant(), { method: 'GET', url: '/v3/other', body: '' }) },
    });
    expect(other.status).toBe(401);
  });

  it('never trusts a reply whose signature does not verify: tampered in flight, or signed by an unknown key', async () => {
    const { paymentId, walletPayment } = await newPayment();
    const proxy = await tamperingProxy(w.url, (body) => body.replace('"NOTPAY"', '"SUCCESS"'));
    try {
      const fooled = new WechatPayChannel({ ...w.config.channels.wechatpay!, apiUrl: proxy.url }, silent);
      await expect(fooled.query({ paymentId })).rejects.toThrow(/signature did not verify \(bad_signature\)/);
    } finally {
      await proxy.close();
    }
    expect(walletPayment.status).toBe('NOTPAY');
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const wrongKey = new WechatPayChannel(
      {
        ...w.config.channels.wechatpay!,
        publicKey: { id: 'PUB_KEY_ID_0000', pem: other.export({ type: 'spki', format: 'pem' }) as string },
      },
      silent,
    );
    await expect(wrongKey.query({ paymentId })).rejects.toThrow(/unknown_serial/);
  });

  it('notifies a payment, signed and encrypted; the adapter accepts it and the emulator takes 204 as received', async () => {
    const { paymentId, walletPayment } = await newPayment();
    await buyer(walletPayment.channelPaymentId, 'pay');
    const got = await eventually('the notification', () =>
      notify.received.find(
        (r) => r.verdict.ok && 'callback' in r.verdict && r.verdict.callback.paymentId === paymentId,
      ),
    );
    expect(got.verdict).toMatchObject({
      ok: true,
      callback: {
        eventType: 'TRANSACTION.SUCCESS',
        channelPaymentId: toOutTradeNo(paymentId),
        paymentId,
        merchantId: w.env.WECHATPAY_MCHID,
        state: 'SUCCESS',
        channelStatus: 'SUCCESS',
        amount: 2599,
        currency: 'CNY',
      },
      payload: { trade: { transaction_id: walletPayment.channelPaymentId } },
    });
    expect(got.status).toBe(204);
    expect(got.headers['wechatpay-serial']).toBe(w.env.WECHATPAY_PUBLIC_KEY_ID);
    const envelope = JSON.parse(got.body);
    expect(envelope).toMatchObject({
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      resource: { algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction', original_type: 'transaction' },
    });
    expect(JSON.parse(decryptResource(envelope.resource, w.env.WECHATPAY_API_V3_KEY!))).toMatchObject({
      mchid: w.env.WECHATPAY_MCHID,
      appid: w.env.WECHATPAY_APPID,
      out_trade_no: toOutTradeNo(paymentId),
      trade_state: 'SUCCESS',
    });
    await eventually('the delivery to be recorded', () => walletPayment.deliveries.length === 1);
    expect(walletPayment.deliveries[0]).toMatchObject({ attempt: 1, httpStatus: 204, accepted: true });
  });

  it('retries a refused notification with the same event, signed afresh', async () => {
    const { walletPayment } = await newPayment();
    notify.failNext(500, 503);
    await buyer(walletPayment.channelPaymentId, 'pay');
    await eventually(
      'the third attempt to be accepted',
      () => walletPayment.deliveries.some((d) => d.accepted),
      15_000,
    );
    expect(walletPayment.deliveries.map((d) => [d.attempt, d.httpStatus])).toEqual([
      [1, 500],
      [2, 503],
      [3, 204],
    ]);
    const mine = notify.received.filter((r) => r.body.includes(walletPayment.deliveries[0]!.eventId));
    expect(mine).toHaveLength(3);
    expect(new Set(mine.map((r) => r.body)).size).toBe(1); // the same notification...
    expect(new Set(mine.map((r) => r.headers['wechatpay-nonce'])).size).toBe(3); // ...signed three times
    const answer = w.channel.answerCallback({ ok: false, status: 503, code: 'unavailable', message: 'retry' });
    expect(answer).toEqual({ status: 503, contentType: 'application/json', body: '{"code":"FAIL","message":"retry"}' });
  });

  it('refuses forged, stale and foreign notifications; a wrong amount is accepted as what it says (the workflow asks)', async () => {
    const platformKey = createPrivateKey(readFileSync(w.env.WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE!, 'utf8'));
    const serial = w.env.WECHATPAY_PUBLIC_KEY_ID!;
    const apiV3Key = w.env.WECHATPAY_API_V3_KEY!;
    const paymentId = randomUUID();
    const transaction = (over: Record<string, unknown> = {}) => ({
      mchid: w.env.WECHATPAY_MCHID,
      appid: w.env.WECHATPAY_APPID,
      out_trade_no: toOutTradeNo(paymentId),
      transaction_id: '4200000000202611270000000009',
      trade_state: 'SUCCESS',
      success_time: '2026-11-27T12:00:00+08:00',
      amount: { total: 2599, payer_total: 2599, currency: 'CNY', payer_currency: 'CNY' },
      ...over,
    });
    const verify = (n: { body: string; headers: Record<string, string> }) =>
      w.channel.verifyCallback(Buffer.from(n.body), (name) => n.headers[name.toLowerCase()], Date.now());
    /** A notification of this payment, signed by the platform's key unless told otherwise. */
    const notify = (over: Record<string, unknown> = {}, options: { key?: KeyObject; at?: number } = {}) =>
      platformNotification({
        privateKey: options.key ?? platformKey,
        serial,
        apiV3Key,
        transaction: transaction(over),
        ...(options.at !== undefined ? { at: options.at } : {}),
      });

    const genuine = notify();
    expect(await verify(genuine)).toMatchObject({ ok: true, callback: { paymentId, amount: 2599 } });
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(await verify(notify({}, { key: stranger }))).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verify(notify({}, { at: Date.now() - 600_000 }))).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(await verify(notify({ mchid: '1900009999' }))).toEqual({ ok: false, reason: 'wrong_merchant' });
    expect(await verify(notify({ appid: 'wx0000000000000000' }))).toEqual({ ok: false, reason: 'wrong_merchant' });
    expect(
      await verify({ ...genuine, body: genuine.body.replace('TRANSACTION.SUCCESS', 'TRANSACTION.FAILURE') }),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    const wrongAmount = notify({ amount: { total: 1, currency: 'CNY' } });
    expect(await verify(wrongAmount)).toMatchObject({ ok: true, callback: { amount: 1, state: 'SUCCESS' } });

    // A trade_state word we do not know counts as pending, and says so loudly.
    const lines: string[] = [];
    const loud = new WechatPayChannel(
      w.config.channels.wechatpay!,
      pino({ level: 'error' }, { write: (line: string) => void lines.push(line) }),
    );
    const unknown = notify({ trade_state: 'SOMETHING_NEW' });
    expect(
      await loud.verifyCallback(Buffer.from(unknown.body), (n) => unknown.headers[n.toLowerCase()], Date.now()),
    ).toMatchObject({ ok: true, callback: { state: 'PENDING', channelStatus: 'SOMETHING_NEW' } });
    expect(lines.join('')).toMatch(/unknown WeChat Pay trade_state.*treated as pending/);
  });

  it('notifies a refund (REFUND.SUCCESS) to the notify_url the refund gave; the adapter acknowledges, ignores it', async () => {
    const { paymentId, walletPayment } = await newPayment();
    await buyer(walletPayment.channelPaymentId, 'pay');
    const res = await signedFetch('POST', '/v3/refund/domestic/refunds', {
      out_trade_no: toOutTradeNo(paymentId),
      out_refund_no: `r-${toOutTradeNo(paymentId)}`,
      notify_url: notify.url,
      amount: { refund: 599, total: 2599, currency: 'CNY' },
    });
    expect(await res.json()).toMatchObject({ status: 'PROCESSING', amount: { refund: 599, total: 2599 } });
    const got = await eventually('the refund notification', () =>
      notify.received.find((r) => r.verdict.ok && 'ignored' in r.verdict && r.verdict.paymentId === paymentId),
    );
    expect(got.verdict).toMatchObject({
      ok: true,
      ignored: 'REFUND.SUCCESS',
      payload: { refund: { out_refund_no: `r-${toOutTradeNo(paymentId)}`, refund_status: 'SUCCESS' } },
    });
    expect(got.status).toBe(204);
    expect(JSON.parse(got.body).resource).toMatchObject({ associated_data: 'refund', original_type: 'refund' });
  });
});

describe('the WeChat Pay adapter against the emulator (platform certificate mode)', () => {
  let w: RunningWechatPay;
  beforeAll(async () => {
    w = await runWechatPayEmulator({ mode: 'certificate' });
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('signs with the certificate serial and serves the certificate encrypted at /v3/certificates', async () => {
    const paymentId = randomUUID();
    const created = await w.channel.create({ paymentId, amount: 1, currency: 'CNY', notifyUrl: `${w.url}/nowhere` });
    expect(created.outcome).toBe('created');
    expect(await w.channel.query({ paymentId })).toMatchObject({ state: 'PENDING', amount: 1 });
    const merchant = {
      mchId: w.env.WECHATPAY_MCHID!,
      serialNo: w.env.WECHATPAY_MERCHANT_SERIAL!,
      privateKey: readFileSync(w.env.WECHATPAY_MERCHANT_PRIVATE_KEY_FILE!, 'utf8'),
    };
    const res = await fetch(`${w.url}/v3/certificates`, {
      headers: { authorization: authorization(merchant, { method: 'GET', url: '/v3/certificates', body: '' }) },
    });
    const body = (await res.json()) as {
      data: { serial_no: string; expire_time: string; encrypt_certificate: Parameters<typeof decryptResource>[0] }[];
    };
    expect(res.headers.get('wechatpay-serial')).toBe(w.emulator.platformSerial);
    expect(body.data).toHaveLength(1);
    expect(body.data[0]!.serial_no).toBe(w.emulator.platformSerial);
    expect(body.data[0]!.encrypt_certificate).toMatchObject({
      algorithm: 'AEAD_AES_256_GCM',
      associated_data: 'certificate',
    });
    const pem = decryptResource(body.data[0]!.encrypt_certificate, w.env.WECHATPAY_API_V3_KEY!);
    expect(pem).toBe(readFileSync(w.env.WECHATPAY_PLATFORM_CERT_FILES!, 'utf8'));
  });
});
