// WeChat Pay's configuration: off by default; when enabled, every missing or unreadable piece is one clear line (the
// variable named, never a key's content); the development keys configure both the adapter and the emulator; the API
// v3 key and private keys never reach a log. And the trade bill parser on what the vendor's files look like.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseTradeBill } from '../../channels/wechatpay/adapter';
import { loadConfig } from '../../config';
import { REDACT_PATHS } from '../../observability/logger';
import { ensureWechatPayDevKeys } from '../../sandbox/wechatpay/dev-keys';
import { problemsOf as problems } from '../support/config-problems';

const dir = mkdtempSync(join(tmpdir(), 'wechatpay-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WeChat Pay configuration', () => {
  it('is off unless enabled', () => {
    const config = loadConfig({});
    expect(config.channels.wechatpay).toBeUndefined();
    expect(config.sandbox.wechatpay).toBeUndefined();
  });

  it('names every missing variable, one line each', () => {
    expect(problems({ WECHATPAY_ENABLED: 'true' })).toEqual([
      'WECHATPAY_MCHID: required when WECHATPAY_ENABLED=true',
      'WECHATPAY_APPID: required when WECHATPAY_ENABLED=true',
      'WECHATPAY_MERCHANT_SERIAL: required when WECHATPAY_ENABLED=true',
      'WECHATPAY_API_V3_KEY: required when WECHATPAY_ENABLED=true',
      'WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: set it (or WECHATPAY_MERCHANT_PRIVATE_KEY, the PEM itself), exactly one',
      'WECHATPAY_PUBLIC_KEY_FILE: set it with WECHATPAY_PUBLIC_KEY_ID, or WECHATPAY_PLATFORM_CERT_FILES (the platform key)',
    ]);
  });

  it('takes the development keys: the adapter and the emulator hold the two halves', () => {
    const env = ensureWechatPayDevKeys(join(dir, 'dev'), { port: 3999 });
    const config = loadConfig(env);
    expect(config.channels.wechatpay).toMatchObject({
      apiUrl: 'http://localhost:3999',
      mchId: env.WECHATPAY_MCHID,
      appId: env.WECHATPAY_APPID,
      merchantSerial: env.WECHATPAY_MERCHANT_SERIAL,
      privateKey: expect.stringContaining('BEGIN PRIVATE KEY'),
      platformCertificates: [],
      publicKey: { id: env.WECHATPAY_PUBLIC_KEY_ID, pem: expect.stringContaining('BEGIN PUBLIC KEY') },
      timeoutMs: 5000,
    });
    expect(config.sandbox.wechatpay).toMatchObject({
      port: 3999,
      publicUrl: 'http://localhost:3999',
      platform: { mode: 'public_key', publicKeyId: env.WECHATPAY_PUBLIC_KEY_ID },
      platformPrivateKey: expect.stringContaining('BEGIN PRIVATE KEY'),
      merchantPublicKey: expect.stringContaining('BEGIN PUBLIC KEY'),
    });
    const certs = loadConfig(ensureWechatPayDevKeys(join(dir, 'dev'), { mode: 'certificate' }));
    expect(certs.channels.wechatpay?.platformCertificates).toEqual([expect.stringContaining('BEGIN CERTIFICATE')]);
    expect(certs.channels.wechatpay?.publicKey).toBeUndefined();
    expect(certs.sandbox.wechatpay?.platform).toMatchObject({ mode: 'certificate' });
  });

  it('refuses an unreadable or non-PEM key file and a wrong-sized API v3 key, without quoting any key', () => {
    const env = ensureWechatPayDevKeys(join(dir, 'dev'));
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'TOP-SECRET-NOT-A-KEY');
    const found = problems({
      ...env,
      WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: garbage,
      WECHATPAY_PUBLIC_KEY_FILE: join(dir, 'missing.pem'),
    });
    expect(found).toContain('WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: is not a readable PEM');
    expect(found).toContain(`WECHATPAY_PUBLIC_KEY_FILE: cannot read ${join(dir, 'missing.pem')} (ENOENT)`);
    expect(found.join('\n')).not.toContain('TOP-SECRET');
    expect(problems({ ...env, WECHATPAY_API_V3_KEY: 'too-short' })).toEqual([
      'WECHATPAY_API_V3_KEY: must be 32 bytes (16 or 24 outside production)',
    ]);
    expect(problems({ ...env, NODE_ENV: 'production', WECHATPAY_API_V3_KEY: 'sixteen-byte-key' })).toContain(
      'WECHATPAY_API_V3_KEY: must be 32 bytes in production',
    );
  });

  it('never logs the API v3 key or a private key, even inside a logged config section', () => {
    const config = loadConfig(ensureWechatPayDevKeys(join(dir, 'dev')));
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink).info(
      { wechatpay: config.channels.wechatpay, channels: config.channels },
      'x',
    );
    const text = lines.join('');
    expect(text).not.toContain(config.channels.wechatpay!.apiV3Key);
    expect(text).not.toContain('BEGIN PRIVATE KEY');
    expect(text).toContain(config.channels.wechatpay!.mchId);
  });
});

describe('the trade bill parser', () => {
  const header =
    '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,' +
    '应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,' +
    '手续费,费率,订单金额,申请退款金额,费率备注';
  const row = (fields: string[]) => fields.map((f) => `\`${f}`).join(',');
  const paidRow = row([
    '2026-11-27 12:00:00',
    'wxd678efh567hg6787',
    '1900000001',
    '0',
    '',
    '4200000000202611270000000001',
    '9f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f',
    'oUpF8u',
    'NATIVE',
    'SUCCESS',
    'OTHERS',
    'CNY',
    '25.99',
    '0.00',
    '0',
    '0',
    '0.00',
    '0.00',
    '',
    '',
    'order 1',
    '',
    '0.16',
    '0.60%',
    '25.99',
    '0.00',
    '',
  ]);

  it('reads rows by column name, with a byte-order mark and CRLF, up to the summary', () => {
    const text = `\ufeff${header}\r\n${paidRow}\r\n总交易单数,应结订单总金额\r\n\`1,\`25.99\r\n`;
    expect(parseTradeBill(text)).toEqual([
      {
        outTradeNo: '9f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f',
        transactionId: '4200000000202611270000000001',
        state: 'SUCCESS',
        currency: 'CNY',
        amount: 2599,
        refundAmount: 0,
        refundStatus: '',
        paidAt: '2026-11-27T04:00:00.000Z',
      },
    ]);
  });

  it('keeps a description with commas in its column (the vendor does not quote it; every field starts with a backtick)', () => {
    const withCommas = paidRow.replace('`order 1,', '`order 1, gift wrap, rush,');
    expect(withCommas).not.toBe(paidRow);
    expect(parseTradeBill(`${header}\n${withCommas}\n`)).toEqual([
      expect.objectContaining({ amount: 2599, refundAmount: 0 }),
    ]);
  });

  it('takes ¥-prefixed amounts and reordered columns; refuses amounts finer than a fen', () => {
    const reordered = '商户订单号,交易状态,交易时间,微信订单号,订单金额';
    expect(
      parseTradeBill(`${reordered}\n${row(['abc123', 'SUCCESS', '2026-11-27 00:00:01', '42', '¥88.00'])}\n`),
    ).toEqual([expect.objectContaining({ outTradeNo: 'abc123', amount: 8800, paidAt: '2026-11-26T16:00:01.000Z' })]);
    expect(() =>
      parseTradeBill(`${reordered}\n${row(['abc123', 'SUCCESS', '2026-11-27 00:00:01', '42', '0.001'])}`),
    ).toThrow(/more decimals/);
    expect(() => parseTradeBill('商户订单号,交易状态\n`a,`SUCCESS')).toThrow(/no column 交易时间/);
  });
});
