// Alipay's configuration: required together when enabled, one line per problem, keys in every form Alipay hands them
// out (PEM PKCS#8/PKCS#1, bare base64), never printed; and the development keys made once and kept private.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createChannels } from '../../channels';
import { loadConfig } from '../../config';
import { REDACT_PATHS } from '../../observability/logger';
import { DEV_APP_ID, DEV_SELLER_ID, ensureAlipayDevKeys } from '../../sandbox/alipay/dev-keys';
import { problemsOf } from '../support/config-problems';

const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pemOf = (k: KeyObject, type: 'pkcs8' | 'pkcs1' | 'spki') => String(k.export({ type, format: 'pem' } as never));
/** The base64 body without the PEM armour, as Alipay's key tool prints keys. */
const bare = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

const enabled = {
  ALIPAY_ENABLED: 'true',
  ALIPAY_APP_ID: '2021000000000001',
  ALIPAY_SELLER_ID: '2088000000000001',
  ALIPAY_APP_PRIVATE_KEY: pemOf(app.privateKey, 'pkcs8'),
  ALIPAY_PUBLIC_KEY: pemOf(platform.publicKey, 'spki'),
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'alipay-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Alipay configuration', () => {
  it('is off by default, and then nothing of it is required', () => {
    expect(loadConfig({}).channels.alipay).toBeUndefined();
    expect(loadConfig({}).sandbox.alipay).toBeUndefined();
  });

  it('takes keys as PEM (PKCS#8 or PKCS#1) or bare base64, with the gateway, timeout and code lifetime', () => {
    const config = loadConfig({ ...enabled, ALIPAY_TIMEOUT: '3s', PAYMENT_EXPIRY: '90s' }).channels.alipay!;
    expect(config).toMatchObject({
      gateway: 'https://openapi.alipay.com/gateway.do',
      appId: '2021000000000001',
      sellerId: '2088000000000001',
      timeoutMs: 3000,
      qrTimeoutMinutes: 2,
    });
    expect(config.appPrivateKey.type).toBe('private');
    expect(config.alipayPublicKey.type).toBe('public');
    for (const privateKey of [
      pemOf(app.privateKey, 'pkcs1'),
      bare(pemOf(app.privateKey, 'pkcs8')),
      bare(pemOf(app.privateKey, 'pkcs1')),
    ]) {
      const other = loadConfig({
        ...enabled,
        ALIPAY_APP_PRIVATE_KEY: privateKey,
        ALIPAY_PUBLIC_KEY: bare(enabled.ALIPAY_PUBLIC_KEY),
      });
      expect(other.channels.alipay!.appPrivateKey.export({ type: 'pkcs8', format: 'der' })).toEqual(
        app.privateKey.export({ type: 'pkcs8', format: 'der' }),
      );
    }
    expect(loadConfig({ ...enabled, SANDBOXPAY_ENABLED: 'false' }).channels).toEqual({ alipay: expect.any(Object) });
  });

  it('reads keys from files', () => {
    const privateFile = join(dir, 'app.pem');
    const publicFile = join(dir, 'alipay.pem');
    writeFileSync(privateFile, enabled.ALIPAY_APP_PRIVATE_KEY);
    writeFileSync(publicFile, enabled.ALIPAY_PUBLIC_KEY);
    const { ALIPAY_APP_PRIVATE_KEY: _p, ALIPAY_PUBLIC_KEY: _k, ...rest } = enabled;
    const config = loadConfig({
      ...rest,
      ALIPAY_APP_PRIVATE_KEY_FILE: privateFile,
      ALIPAY_PUBLIC_KEY_FILE: publicFile,
    });
    expect(config.channels.alipay?.appId).toBe('2021000000000001');
  });

  it('names every problem on its own line, never a key', () => {
    expect(problemsOf({ ALIPAY_ENABLED: 'true' })).toEqual([
      'ALIPAY_APP_ID: required when ALIPAY_ENABLED=true',
      'ALIPAY_SELLER_ID: required when ALIPAY_ENABLED=true',
      'ALIPAY_APP_PRIVATE_KEY: required when ALIPAY_ENABLED=true (or ALIPAY_APP_PRIVATE_KEY_FILE)',
      'ALIPAY_PUBLIC_KEY: required when ALIPAY_ENABLED=true (or ALIPAY_PUBLIC_KEY_FILE)',
    ]);
    expect(problemsOf({ ...enabled, ALIPAY_APP_ID: '123', ALIPAY_SELLER_ID: '1234567890123456' })).toEqual([
      'ALIPAY_APP_ID: must be the 16-digit app id Alipay assigned',
      "ALIPAY_SELLER_ID: must be the merchant's 16-digit pid, starting 2088",
    ]);
    const mangled = problemsOf({
      ...enabled,
      ALIPAY_APP_PRIVATE_KEY: 'MIIEv-not-a-key',
      ALIPAY_PUBLIC_KEY_FILE: join(dir, 'missing.pem'),
    });
    expect(mangled).toEqual([
      'ALIPAY_PUBLIC_KEY: set it or ALIPAY_PUBLIC_KEY_FILE, not both',
      'ALIPAY_APP_PRIVATE_KEY: not an RSA private key of 2048 bits or more (PKCS#1 or PKCS#8, PEM or base64)',
    ]);
    expect(problemsOf({ ...enabled, ALIPAY_PUBLIC_KEY: pemOf(app.publicKey, 'spki') })).toEqual([
      "ALIPAY_PUBLIC_KEY: is the app's own public key; it must be Alipay's public key",
    ]);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(problemsOf({ ...enabled, ALIPAY_APP_PRIVATE_KEY: pemOf(weak.privateKey, 'pkcs8') })).toEqual([
      'ALIPAY_APP_PRIVATE_KEY: not an RSA private key of 2048 bits or more (PKCS#1 or PKCS#8, PEM or base64)',
    ]);
    expect(
      problemsOf({
        ...enabled,
        NODE_ENV: 'production',
        ADMIN_API_KEY: 'a-production-admin-key',
        ORDER_NOTIFY_SIGNING_KEYS: 'k1:9f0c2b7e4a1d6e3f8b5c0a7d2e9f4b1c6a3d8e5f',
        PAYLOAD_ENCRYPTION: 'off',
        SANDBOXPAY_ENABLED: 'false',
        ALIPAY_GATEWAY: 'http://gw.example/gateway.do',
      }),
    ).toEqual(['ALIPAY_GATEWAY: must be https in production']);
    expect(problemsOf({ ALIPAY_EMULATOR_PRIVATE_KEY_FILE: join(dir, 'x.pem') })).toEqual([
      'ALIPAY_EMULATOR_PRIVATE_KEY_FILE: set it together with ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE',
    ]);
    for (const problems of [mangled, problemsOf({ ...enabled, ALIPAY_PUBLIC_KEY: pemOf(app.publicKey, 'spki') })]) {
      expect(problems.join('\n')).not.toMatch(/BEGIN|MII/);
    }
  });

  it('holds keys so that neither a serialized configuration nor a log line can show one', () => {
    const config = loadConfig(enabled);
    expect(JSON.stringify(config)).not.toMatch(/PRIVATE KEY|MII/);
    const lines: string[] = [];
    const logger = pino(
      { redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
      new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }),
    );
    logger.info({ config, alipay: config.channels.alipay }, 'configuration');
    logger.info({ privateKey: enabled.ALIPAY_APP_PRIVATE_KEY }, 'a careless caller');
    // Nor the adapter, which hands the key to the SDK as PEM text: the SDK is out of reach of serialization.
    const channels = createChannels(config, logger);
    logger.info({ channels }, 'the registry');
    expect(JSON.stringify(channels)).not.toMatch(/PRIVATE KEY|MII/);
    expect(lines.join('')).not.toMatch(/PRIVATE KEY|MII/);
  });
});

describe('Alipay development keys', () => {
  it('are made once, private halves 0600, and configure both the adapter and the emulator', () => {
    const keys = join(dir, 'dev');
    const env = ensureAlipayDevKeys(keys);
    expect(env).toMatchObject({
      ALIPAY_ENABLED: 'true',
      ALIPAY_GATEWAY: 'http://localhost:3102/gateway.do',
      ALIPAY_APP_ID: DEV_APP_ID,
      ALIPAY_SELLER_ID: DEV_SELLER_ID,
      ALIPAY_EMULATOR_PORT: '3102',
    });
    const first = readFileSync(env.ALIPAY_APP_PRIVATE_KEY_FILE!, 'utf8');
    expect(statSync(env.ALIPAY_APP_PRIVATE_KEY_FILE!).mode & 0o777).toBe(0o600);
    expect(statSync(env.ALIPAY_EMULATOR_PRIVATE_KEY_FILE!).mode & 0o777).toBe(0o600);
    expect(ensureAlipayDevKeys(keys, { port: 4102 })).toMatchObject({
      ALIPAY_GATEWAY: 'http://localhost:4102/gateway.do',
    });
    expect(readFileSync(env.ALIPAY_APP_PRIVATE_KEY_FILE!, 'utf8')).toBe(first); // kept, not remade
    // A lost public half is derived again from the private one (never a new pair that would not match).
    rmSync(env.ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE!);
    ensureAlipayDevKeys(keys);
    expect(readFileSync(env.ALIPAY_APP_PRIVATE_KEY_FILE!, 'utf8')).toBe(first);

    const config = loadConfig(env);
    expect(config.channels.alipay?.gateway).toBe('http://localhost:3102/gateway.do');
    expect(config.sandbox.alipay).toMatchObject({ port: 3102, publicUrl: 'http://localhost:3102', appId: DEV_APP_ID });
    // The two sides pair up: the emulator checks with the public half of the adapter's key, and the reverse.
    const der = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    expect(der(createPublicKey(config.channels.alipay!.appPrivateKey))).toEqual(
      der(config.sandbox.alipay!.appPublicKey),
    );
    expect(der(createPublicKey(config.sandbox.alipay!.alipayPrivateKey))).toEqual(
      der(config.channels.alipay!.alipayPublicKey),
    );
  });
});
