// Our WeChat Pay emulator judged by the vendor's own client: the Go SDK (github.com/wechatpay-apiv3/wechatpay-go
// v0.2.20) with its real API client (core.NewClient: its request signer, its response validator) calls the emulator
// through our driver (test/crosscheck/wechatpay), its fixed production host rewritten to the emulator's address.
// Every call that succeeds proves both directions: the emulator accepted the SDK's signature, and the SDK verified
// the emulator's. The negative controls prove the SDK really checks. The emulator's real notifications are also
// handed to the SDK's notify handler.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { toOutTradeNo } from '../../channels/wechatpay/notification';
import { buildCrosscheckDriver, runCrosscheckDriver } from '../support/wechatpay';
import { type RunningWechatPay, runWechatPayEmulator } from '../support/wechatpay-emulator';

interface CallResult {
  op: string;
  ok: boolean;
  status?: number;
  code?: string;
  error?: string;
  result?: Record<string, unknown>;
}
interface Answer {
  ok: boolean;
  error?: string;
  calls?: CallResult[];
  id?: string;
  eventType?: string;
  plaintext?: string;
}
interface Call {
  op: 'prepay' | 'query' | 'query-by-id' | 'close' | 'refund' | 'refund-query';
  outTradeNo?: string;
  id?: string;
  outRefundNo?: string;
  amount?: number;
  refund?: number;
  notifyUrl?: string;
}

const dir = mkdtempSync(join(tmpdir(), 'wechatpay-sdk-'));
let driver: string;
beforeAll(() => {
  driver = buildCrosscheckDriver(dir);
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pem = (path: string) => readFileSync(path, 'utf8');

/** The vendor SDK's client, configured as a merchant would, pointed at `w`. */
function sdk(w: RunningWechatPay, mode: 'public_key' | 'certificate', overrides: Record<string, string> = {}) {
  return async (...calls: Call[]): Promise<CallResult[]> => {
    const answer = await runCrosscheckDriver<Answer>(driver, {
      command: 'client',
      baseUrl: w.url,
      mode,
      mchId: w.env.WECHATPAY_MCHID,
      appId: w.env.WECHATPAY_APPID,
      serialNo: w.env.WECHATPAY_MERCHANT_SERIAL,
      privateKeyPem: pem(w.env.WECHATPAY_MERCHANT_PRIVATE_KEY_FILE!),
      apiV3Key: w.env.WECHATPAY_API_V3_KEY,
      ...(mode === 'public_key'
        ? { publicKeyId: w.env.WECHATPAY_PUBLIC_KEY_ID, publicKeyPem: pem(w.env.WECHATPAY_PUBLIC_KEY_FILE!) }
        : {}),
      calls,
      ...overrides,
    });
    if (!answer.ok) throw new Error(`the SDK client did not start: ${answer.error}`);
    return answer.calls!;
  };
}

const pay = (w: RunningWechatPay, outTradeNo: string) =>
  fetch(`${w.url}/wallet/${w.emulator.findByOutTradeNo(outTradeNo)!.channelPaymentId}/pay`, { method: 'POST' });

describe('the vendor Go SDK client against our emulator ("WeChat Pay public key" mode)', () => {
  let w: RunningWechatPay;
  let notify: { url: string; bodies: { body: string; headers: Record<string, string> }[]; server: Server };
  beforeAll(async () => {
    w = await runWechatPayEmulator({ mode: 'public_key' });
    const bodies: { body: string; headers: Record<string, string> }[] = [];
    const app = express();
    app.post('/notify', express.text({ type: () => true }), (req, res) => {
      bodies.push({
        body: req.body as string,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
      });
      res.status(204).end();
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    notify = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`, bodies, server };
  });
  afterAll(async () => {
    await new Promise((r) => notify?.server.close(r));
    await w?.stop();
  });

  it('prepays, queries, refunds and closes with the SDK: the emulator takes its signatures, it takes ours', async () => {
    const client = sdk(w, 'public_key');
    const a = toOutTradeNo(randomUUID());
    const b = toOutTradeNo(randomUUID());
    const first = await client(
      { op: 'prepay', outTradeNo: a, amount: 2599, notifyUrl: notify.url },
      { op: 'query', outTradeNo: a },
      { op: 'query', outTradeNo: toOutTradeNo(randomUUID()) },
      { op: 'prepay', outTradeNo: b, amount: 1, notifyUrl: notify.url },
      { op: 'close', outTradeNo: b },
      { op: 'query', outTradeNo: b },
    );
    expect(first.map((c) => [c.op, c.ok, c.status, c.code ?? ''])).toEqual([
      ['prepay', true, 200, ''],
      ['query', true, 200, ''],
      ['query', false, 404, 'ORDER_NOT_EXIST'],
      ['prepay', true, 200, ''],
      ['close', true, 204, ''],
      ['query', true, 200, ''],
    ]);
    const transactionId = w.emulator.findByOutTradeNo(a)!.channelPaymentId;
    expect(first[0]!.result).toEqual({ code_url: `${w.url}/pay/${transactionId}` });
    expect(first[1]!.result).toMatchObject({ out_trade_no: a, trade_state: 'NOTPAY', amount: { total: 2599 } });
    expect(first[5]!.result).toMatchObject({ out_trade_no: b, trade_state: 'CLOSED' });

    expect((await pay(w, a)).status).toBe(200);
    const second = await client(
      { op: 'query', outTradeNo: a },
      { op: 'query-by-id', id: transactionId },
      { op: 'refund', outTradeNo: a, outRefundNo: `r1-${a}`, amount: 2599, refund: 1000 },
      { op: 'refund-query', outRefundNo: `r1-${a}` },
      { op: 'close', outTradeNo: a },
      { op: 'refund', outTradeNo: a, outRefundNo: `r2-${a}`, amount: 2599, refund: 2000 },
    );
    expect(second.map((c) => [c.op, c.ok, c.status, c.code ?? ''])).toEqual([
      ['query', true, 200, ''],
      ['query-by-id', true, 200, ''],
      ['refund', true, 200, ''],
      ['refund-query', true, 200, ''],
      ['close', false, 400, 'ORDERPAID'],
      ['refund', false, 400, 'INVALID_REQUEST'],
    ]);
    expect(second[0]!.result).toMatchObject({
      trade_state: 'SUCCESS',
      transaction_id: transactionId,
      amount: { total: 2599, payer_total: 2599 },
    });
    expect(second[2]!.result).toMatchObject({
      out_refund_no: `r1-${a}`,
      status: 'PROCESSING',
      amount: { refund: 1000 },
    });
  });

  it("hands the emulator's real notification to the SDK's notify handler, which verifies and decrypts it", async () => {
    const client = sdk(w, 'public_key');
    const outTradeNo = toOutTradeNo(randomUUID());
    await client({ op: 'prepay', outTradeNo, amount: 88, notifyUrl: notify.url });
    const before = notify.bodies.length;
    await pay(w, outTradeNo);
    const deadline = Date.now() + 10_000;
    while (notify.bodies.length === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const received = notify.bodies.at(-1)!;
    const parsed = await runCrosscheckDriver<Answer>(driver, {
      command: 'parse-notify',
      apiV3Key: w.env.WECHATPAY_API_V3_KEY,
      publicKeyId: w.env.WECHATPAY_PUBLIC_KEY_ID,
      publicKeyPem: pem(w.env.WECHATPAY_PUBLIC_KEY_FILE!),
      headers: received.headers,
      body: received.body,
    });
    expect(parsed).toMatchObject({ ok: true, eventType: 'TRANSACTION.SUCCESS' });
    expect(JSON.parse(parsed.plaintext!)).toMatchObject({ out_trade_no: outTradeNo, trade_state: 'SUCCESS' });
  });

  it('negative controls: the SDK refuses replies under another platform key; the emulator refuses another merchant key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrongPlatform = sdk(w, 'public_key', {
      publicKeyPem: other.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    });
    const [unverified] = await wrongPlatform({ op: 'query', outTradeNo: toOutTradeNo(randomUUID()) });
    expect(unverified).toMatchObject({ ok: false, code: 'ORDER_NOT_EXIST' }); // errors are not validated by the SDK
    const [refused] = await wrongPlatform({
      op: 'prepay',
      outTradeNo: toOutTradeNo(randomUUID()),
      amount: 1,
      notifyUrl: notify.url,
    });
    expect(refused!.ok).toBe(false);
    expect(refused!.error).toMatch(/verify/i);
    expect(refused!.code).toBeUndefined();

    const wrongMerchant = sdk(w, 'public_key', {
      privateKeyPem: other.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    });
    const [unsigned] = await wrongMerchant({ op: 'query', outTradeNo: toOutTradeNo(randomUUID()) });
    expect(unsigned).toMatchObject({ ok: false, status: 401, code: 'SIGN_ERROR' });
  });
});

describe('the vendor Go SDK client against our emulator (platform certificate mode)', () => {
  let w: RunningWechatPay;
  beforeAll(async () => {
    w = await runWechatPayEmulator({ mode: 'certificate' });
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('downloads and decrypts the platform certificate from /v3/certificates, then verifies replies with it', async () => {
    const outTradeNo = toOutTradeNo(randomUUID());
    const calls = await sdk(w, 'certificate')(
      { op: 'prepay', outTradeNo, amount: 100, notifyUrl: `${w.url}/nowhere` },
      { op: 'query', outTradeNo },
    );
    expect(calls.map((c) => [c.op, c.ok, c.status])).toEqual([
      ['prepay', true, 200],
      ['query', true, 200],
    ]);
    expect(calls[1]!.result).toMatchObject({ trade_state: 'NOTPAY' });
  });

  it('refuses to start with the wrong API v3 key (the certificate does not decrypt)', async () => {
    const answer = await runCrosscheckDriver<Answer>(driver, {
      command: 'client',
      baseUrl: w.url,
      mode: 'certificate',
      mchId: w.env.WECHATPAY_MCHID,
      serialNo: w.env.WECHATPAY_MERCHANT_SERIAL,
      privateKeyPem: pem(w.env.WECHATPAY_MERCHANT_PRIVATE_KEY_FILE!),
      apiV3Key: 'another32byteApiV3KeyForTheEmu!!',
      calls: [],
    });
    expect(answer.ok).toBe(false);
    expect(answer.error).toMatch(/decrypt/i);
  });
});
