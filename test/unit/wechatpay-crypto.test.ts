// WeChat Pay API v3's cryptography (channels/wechatpay/crypto.ts), proven against the vendor's own test vector: the
// notification in core/notify/notify_test.go of its Go SDK (github.com/wechatpay-apiv3/wechatpay-go v0.2.20, fetched
// from the Go module proxy by `npm test`'s bootstrap), read from that file as the vendor wrote it. Its API v3 key is
// 16 bytes under the label AEAD_AES_256_GCM, and its clock is pinned: the verifier takes both as they come.
import { generateKeyPairSync, createVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  authorization,
  decryptResource,
  encryptResource,
  PlatformKeys,
  requestMessage,
  ResourceDecryptionError,
  signResponse,
  verifySignature,
} from '../../channels/wechatpay/crypto';
import { readToolchain } from '../../scripts/stack/toolchain';

/** Go string literals joined by `+` ("..." with Go/JSON escapes, or `raw`), starting at `from`. */
function goStrings(source: string, from: number): string {
  const literal = /\s*(?:"((?:[^"\\]|\\.)*)"|`([^`]*)`)\s*(\+)?/y;
  literal.lastIndex = from;
  let out = '';
  for (let m = literal.exec(source); m; m = literal.exec(source)) {
    out += m[2] ?? (JSON.parse(`"${m[1]}"`) as string);
    if (!m[3]) break;
  }
  return out;
}

function goValue(source: string, name: string): string {
  const at = new RegExp(`(?:\\b${name}\\s*(?::=|=)|"${name}"\\s*:)`).exec(source);
  if (!at) throw new Error(`${name} not found in the vendor's test file`);
  return goStrings(source, at.index + at[0].length);
}

const sdk = readToolchain().wechatpayGoSdk;
if (!sdk) throw new Error('the WeChat Pay Go SDK source is missing: run through npm test (scripts/bootstrap.mjs test)');
const vendorFile = readFileSync(join(sdk, 'core', 'notify', 'notify_test.go'), 'utf8');
/** The vendor's test that parses a real notification: the vector is its constants, headers and body. */
const vendorTest = (() => {
  const start = vendorFile.indexOf('func TestHandler_ParseNotifyRequest(');
  if (start < 0) throw new Error('TestHandler_ParseNotifyRequest not found in the vendor test file');
  const end = vendorFile.indexOf('\nfunc ', start + 1);
  return vendorFile.slice(start, end < 0 ? undefined : end);
})();
const vector = {
  apiV3Key: goValue(vendorTest, 'mchAPIv3Key'),
  certificate: goValue(vendorTest, 'wechatPayCertificate'),
  plaintext: goValue(vendorTest, 'data'),
  body: goValue(vendorTest, 'body'),
  headers: {
    'wechatpay-nonce': goValue(vendorTest, 'Wechatpay-Nonce'),
    'wechatpay-timestamp': goValue(vendorTest, 'Wechatpay-Timestamp'),
    'wechatpay-serial': goValue(vendorTest, 'Wechatpay-Serial'),
    'wechatpay-signature': goValue(vendorTest, 'Wechatpay-Signature'),
  } as Record<string, string>,
  /** The vendor's test pins time.Now to this instant. */
  nowMs: Number(/time\.Unix\((\d+), 0\)/.exec(vendorTest)![1]) * 1000,
};

const header = (headers: Record<string, string>) => (name: string) => headers[name.toLowerCase()];

describe("WeChat Pay v3 notifications, checked against the vendor's Go SDK test vector", () => {
  const keys = new PlatformKeys();
  let serial = '';
  beforeAll(() => {
    serial = keys.addCertificate(vector.certificate);
  });

  it('read the vector from the vendor file', () => {
    expect(vector.apiV3Key).toHaveLength(16);
    expect(vector.body).toContain('"resource_type":"encrypt-resource"');
    expect(vector.headers['wechatpay-signature']).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(serial).toBe(vector.headers['wechatpay-serial']); // the certificate's serial names its key
  });

  it('accepts the notification the vendor signed, and decrypts its resource to the plaintext the vendor expects', () => {
    expect(verifySignature(header(vector.headers), vector.body, keys, vector.nowMs)).toEqual({ ok: true });
    const { resource } = JSON.parse(vector.body) as { resource: Parameters<typeof decryptResource>[0] };
    expect(resource.algorithm).toBe('AEAD_AES_256_GCM');
    expect(decryptResource(resource, vector.apiV3Key)).toBe(vector.plaintext);
  });

  it('rejects it tampered: body, signature, serial, timestamp', () => {
    const check = (headers: Record<string, string>, body = vector.body, now = vector.nowMs) =>
      verifySignature(header(headers), body, keys, now);
    expect(check(vector.headers, vector.body.replace('签约成功', '签约失败'))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const sig = vector.headers['wechatpay-signature']!;
    const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    expect(check({ ...vector.headers, 'wechatpay-signature': flipped })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(check({ ...vector.headers, 'wechatpay-serial': 'PUB_KEY_ID_0000' })).toEqual({
      ok: false,
      reason: 'unknown_serial',
    });
    expect(check({ ...vector.headers, 'wechatpay-nonce': 'another-nonce' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const { 'wechatpay-signature': _, ...unsigned } = vector.headers;
    expect(check(unsigned)).toEqual({ ok: false, reason: 'missing_signature' });
    // 5 minutes of skew, as the vendor's SDK: 299 s is fine, 300 s is not, either way.
    expect(check(vector.headers, vector.body, vector.nowMs + 299_000)).toEqual({ ok: true });
    expect(check(vector.headers, vector.body, vector.nowMs + 300_000)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(check(vector.headers, vector.body, vector.nowMs - 300_000)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
  });

  it('refuses a resource decrypted with another key or tampered', () => {
    const { resource } = JSON.parse(vector.body) as { resource: Parameters<typeof decryptResource>[0] };
    expect(() => decryptResource(resource, 'testMchAPIv3Key1')).toThrow(ResourceDecryptionError);
    expect(() => decryptResource({ ...resource, associated_data: 'transaction' }, vector.apiV3Key)).toThrow(
      ResourceDecryptionError,
    );
    expect(() => decryptResource(resource, 'short')).toThrow(/AES needs 16, 24 or 32/);
  });
});

describe('WeChat Pay v3 signing (merchant requests; the platform side for our emulator)', () => {
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('signs a request as WECHATPAY2-SHA256-RSA2048 over METHOD, URL, timestamp, nonce and body', () => {
    const body = '{"mchid":"1900000001","out_trade_no":"p-1","amount":{"total":100,"currency":"CNY"}}';
    const header = authorization(
      { mchId: '1900000001', serialNo: 'ABC123', privateKey: merchant.privateKey },
      { method: 'POST', url: '/v3/pay/transactions/native', body },
      { timestamp: 1624523846, nonce: 'NONCE1' },
    );
    const fields = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])) as Record<
      string,
      string
    >;
    expect(header.startsWith('WECHATPAY2-SHA256-RSA2048 ')).toBe(true);
    expect(fields).toMatchObject({
      mchid: '1900000001',
      nonce_str: 'NONCE1',
      timestamp: '1624523846',
      serial_no: 'ABC123',
    });
    const message = requestMessage('POST', '/v3/pay/transactions/native', 1624523846, 'NONCE1', body);
    expect(message).toBe(`POST\n/v3/pay/transactions/native\n1624523846\nNONCE1\n${body}\n`);
    expect(createVerify('RSA-SHA256').update(message).verify(merchant.publicKey, fields.signature!, 'base64')).toBe(
      true,
    );
  });

  it('round-trips a platform-signed, encrypted notification in the "WeChat Pay public key" mode, with a 32-byte key', () => {
    const keys = new PlatformKeys();
    keys.addPublicKey('PUB_KEY_ID_0112', platform.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const apiV3Key = '0123456789abcdef0123456789abcdef';
    const plaintext = '{"trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}';
    const body = JSON.stringify({ id: 'evt-1', resource: encryptResource(plaintext, apiV3Key) });
    const ts = '1700000000';
    const headers = {
      'wechatpay-timestamp': ts,
      'wechatpay-nonce': 'n-1',
      'wechatpay-serial': 'PUB_KEY_ID_0112',
      'wechatpay-signature': signResponse(platform.privateKey, ts, 'n-1', body),
    };
    expect(verifySignature(header(headers), body, keys, 1700000000_000)).toEqual({ ok: true });
    expect(
      decryptResource((JSON.parse(body) as { resource: Parameters<typeof decryptResource>[0] }).resource, apiV3Key),
    ).toBe(plaintext);
  });
});
