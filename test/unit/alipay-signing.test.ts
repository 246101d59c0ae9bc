// Our Alipay emulator's signing (sandbox/alipay/signing.ts), judged by the official alipay-sdk: the SDK as a merchant
// client, pointed at a gateway of ours on 127.0.0.1, with validateSign: true (it checks nothing unless asked); and its
// checkNotifySignV2 on the notifications we sign (V1 throws on any value containing "%").
import { generateKeyPairSync, type KeyExportOptions, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlipaySdk } from 'alipay-sdk';
import { signNotification, signReply, verifyRequest } from '../../sandbox/alipay/signing';

const pem = (k: KeyObject, type: 'pkcs8' | 'spki') =>
  String(k.export({ type, format: 'pem' } as KeyExportOptions<'pem'>));
const app = generateKeyPairSync('rsa', { modulusLength: 2048 }); // the merchant's app key
const alipay = generateKeyPairSync('rsa', { modulusLength: 2048 }); // the platform's key
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

let server: Server;
let gateway = '';
const received: Record<string, string>[] = [];

beforeAll(async () => {
  // A gateway that checks the request's signature and answers alipay.trade.query, signed.
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const params = Object.fromEntries([...url.searchParams, ...new URLSearchParams(body)]);
      received.push(params);
      const method = params.method ?? '';
      const biz = JSON.parse(params.biz_content ?? '{}') as { out_trade_no?: string };
      const reply = verifyRequest(params, app.publicKey)
        ? {
            code: '10000',
            msg: 'Success',
            out_trade_no: biz.out_trade_no,
            trade_no: '2026112722001',
            trade_status: 'TRADE_SUCCESS',
            total_amount: '88.00',
          }
        : { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature', sub_msg: '验签出错' };
      res
        .writeHead(200, { 'content-type': 'application/json;charset=utf-8' })
        .end(signReply(method, reply, alipay.privateKey));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gateway.do`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const sdk = (alipayPublicKey: string) =>
  new AlipaySdk({
    appId: '2021000000000001',
    privateKey: pem(app.privateKey, 'pkcs8'),
    alipayPublicKey,
    gateway,
    keyType: 'PKCS8',
  });

describe('the official alipay-sdk against our gateway signing', () => {
  it('gets a reply whose signature it checks (validateSign), after our gateway checked its request signature', async () => {
    const result = (await sdk(pem(alipay.publicKey, 'spki')).exec(
      'alipay.trade.query',
      { bizContent: { outTradeNo: '9f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f' } },
      { validateSign: true },
    )) as Record<string, unknown>;
    expect(result).toMatchObject({ code: '10000', tradeStatus: 'TRADE_SUCCESS', totalAmount: '88.00' });
    expect(received.at(-1)).toMatchObject({
      method: 'alipay.trade.query',
      app_id: '2021000000000001',
      sign_type: 'RSA2',
    });
  });

  it('refuses our reply when it expects another Alipay key', async () => {
    await expect(
      sdk(pem(other.publicKey, 'spki')).exec(
        'alipay.trade.query',
        { bizContent: { outTradeNo: 'x' } },
        { validateSign: true },
      ),
    ).rejects.toThrow(/验签失败/);
  });

  it('our gateway refuses a request whose parameters were changed after signing', () => {
    const signed = received.at(-1)!;
    expect(verifyRequest(signed, app.publicKey)).toBe(true);
    expect(verifyRequest({ ...signed, biz_content: '{"out_trade_no":"tampered"}' }, app.publicKey)).toBe(false);
    expect(verifyRequest({ ...signed, timestamp: '2000-01-01 00:00:00' }, app.publicKey)).toBe(false);
    expect(verifyRequest(signed, other.publicKey)).toBe(false);
  });
});

describe('the official alipay-sdk on the notifications we sign (checkNotifySignV2)', () => {
  const notification = {
    notify_id: '2026112700222120000000000001',
    notify_type: 'trade_status_sync',
    notify_time: '2026-11-27 12:00:01',
    app_id: '2021000000000001',
    seller_id: '2088000000000001',
    out_trade_no: '9f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f',
    trade_no: '2026112722001',
    trade_status: 'TRADE_SUCCESS',
    total_amount: '88.00',
    subject: '订单 o-1: 100% tea + cup',
    charset: 'utf-8',
    version: '1.0',
  };

  it('accepts them, values with "%", "+" and spaces included', () => {
    const signed = signNotification(notification, alipay.privateKey);
    expect(sdk(pem(alipay.publicKey, 'spki')).checkNotifySignV2(signed)).toBe(true);
  });

  it('refuses them tampered, or signed by another key', () => {
    const signed = signNotification(notification, alipay.privateKey);
    expect(sdk(pem(alipay.publicKey, 'spki')).checkNotifySignV2({ ...signed, total_amount: '0.01' })).toBe(false);
    expect(sdk(pem(alipay.publicKey, 'spki')).checkNotifySignV2(signNotification(notification, other.privateKey))).toBe(
      false,
    );
  });
});
