// Our WeChat Pay v3 platform side (what our emulator will sign, encrypt and check) judged by the vendor's own Go SDK
// (github.com/wechatpay-apiv3/wechatpay-go v0.2.20): test/crosscheck/wechatpay is a small Go program of ours over that
// SDK, built here with the project's Go module cache. Its notify handler must accept and decrypt the notifications we
// make, and refuse them tampered; its signer's Authorization headers must pass our verifier, and fail it tampered.
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlatformKeys, verifyAuthorization } from '../../channels/wechatpay/crypto';
import { projectRoot, readToolchain } from '../../scripts/stack/toolchain';
import { platformNotification } from '../support/wechatpay';

const goEnv = {
  ...process.env,
  GOPATH: join(projectRoot, '.data', 'go'),
  GOMODCACHE: join(projectRoot, '.data', 'go', 'pkg', 'mod'),
  GOFLAGS: '-modcacherw',
  GOTOOLCHAIN: 'local',
};
const dir = mkdtempSync(join(tmpdir(), 'wechatpay-crosscheck-'));
const driver = join(dir, 'crosscheck');

interface Answer {
  ok: boolean;
  error?: string;
  id?: string;
  eventType?: string;
  plaintext?: string;
  content?: Record<string, unknown>;
  authorization?: string;
}

function vendor(request: object): Answer {
  const run = spawnSync(driver, { input: JSON.stringify(request), encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`the cross-check driver failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Answer;
}

beforeAll(() => {
  const go = readToolchain().go;
  if (!go) throw new Error('no Go toolchain recorded: run through npm test (scripts/bootstrap.mjs test)');
  execFileSync(go, ['build', '-o', driver, '.'], {
    cwd: join(projectRoot, 'test', 'crosscheck', 'wechatpay'),
    env: goEnv,
    stdio: 'pipe',
  });
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("our WeChat Pay notifications, parsed by the vendor's Go SDK", () => {
  const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyPem = platform.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const apiV3Key = 'a32byteApiV3KeyForTheEmulator!!!';
  const transaction = {
    mchid: '1900000001',
    appid: 'wxd678efh567hg6787',
    out_trade_no: '9f1c2d4e-0000-4000-8000-000000000001',
    transaction_id: '4200000000202611270000000001',
    trade_state: 'SUCCESS',
    amount: { total: 2599, payer_total: 2599, currency: 'CNY', payer_currency: 'CNY' },
    success_time: '2026-11-27T12:00:00+08:00',
  };

  const SERIAL = 'PUB_KEY_ID_0119000000012026112700000000000001';
  function notification(overrides: { body?: (b: string) => string; nonce?: string } = {}) {
    const n = platformNotification({ privateKey: platform.privateKey, serial: SERIAL, apiV3Key, transaction });
    // A nonce other than the one signed: what a replay with a new nonce looks like.
    const headers = { ...n.headers, ...(overrides.nonce ? { 'wechatpay-nonce': overrides.nonce } : {}) };
    return { headers, body: overrides.body ? overrides.body(n.body) : n.body };
  }

  it('accepts and decrypts what we sign and encrypt ("WeChat Pay public key" mode)', () => {
    const n = notification();
    const answer = vendor({
      command: 'parse-notify',
      apiV3Key,
      publicKeyId: SERIAL,
      publicKeyPem,
      ...n,
    });
    expect(answer).toMatchObject({ ok: true, id: 'EV-2026112712000001', eventType: 'TRANSACTION.SUCCESS' });
    expect(JSON.parse(answer.plaintext!)).toEqual(transaction);
  });

  it('refuses it tampered, or under another key', () => {
    const base = { command: 'parse-notify', apiV3Key, publicKeyPem };
    const n = notification();
    const tamperedBody = notification({ body: (b) => b.replace('支付成功', '支付失败') });
    expect(vendor({ ...base, publicKeyId: SERIAL, ...tamperedBody }).ok).toBe(false);
    const tamperedNonce = notification({ nonce: 'another-nonce' });
    expect(vendor({ ...base, publicKeyId: SERIAL, ...tamperedNonce }).ok).toBe(false);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(vendor({ ...base, publicKeyPem: otherPem, publicKeyId: SERIAL, ...n })).toMatchObject({
      ok: false,
      error: expect.stringContaining('verify'),
    });
    expect(
      vendor({
        ...base,
        apiV3Key: 'another32byteApiV3KeyForTheEmu!!',
        publicKeyId: SERIAL,
        ...n,
      }).ok,
    ).toBe(false);
  });
});

describe("the vendor's Go SDK signs merchant requests that our verifier accepts", () => {
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keys = new PlatformKeys();
  keys.addPublicKey(
    '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    merchant.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
  const request = {
    method: 'POST',
    url: '/v3/pay/transactions/native',
    body: '{"mchid":"1900000001","out_trade_no":"p-1","amount":{"total":2599,"currency":"CNY"}}',
  };
  const signed = () =>
    vendor({
      command: 'sign-request',
      mchId: '1900000001',
      serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
      privateKeyPem: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      ...request,
    }).authorization!;

  it('verifies the Authorization header the vendor SDK made', () => {
    const header = signed();
    expect(header).toMatch(/^WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="/);
    expect(verifyAuthorization(header, request, keys, Date.now())).toEqual({
      ok: true,
      mchId: '1900000001',
      serialNo: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    });
  });

  it('refuses it for another body, URL or method, an unknown serial, or 5 minutes later', () => {
    const header = signed();
    expect(
      verifyAuthorization(header, { ...request, body: request.body.replace('2599', '1') }, keys, Date.now()),
    ).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyAuthorization(header, { ...request, url: '/v3/pay/transactions/jsapi' }, keys, Date.now()).ok).toBe(
      false,
    );
    expect(verifyAuthorization(header, { ...request, method: 'GET' }, keys, Date.now()).ok).toBe(false);
    expect(verifyAuthorization(header, request, new PlatformKeys(), Date.now())).toEqual({
      ok: false,
      reason: 'unknown_serial',
    });
    expect(verifyAuthorization(header, request, keys, Date.now() + 300_000)).toEqual({
      ok: false,
      reason: 'stale_timestamp',
    });
    expect(verifyAuthorization(undefined, request, keys, Date.now())).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
  });
});
