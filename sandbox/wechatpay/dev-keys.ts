// Development keys for the WeChat Pay channel and its emulator, made once per data directory: the merchant's API key
// pair and certificate serial, the platform's key pair with both of its published forms (a self-signed platform
// certificate, and the same key as a "WeChat Pay public key" with a PUB_KEY_ID_...), and an API v3 key. The answer is
// the environment that configures BOTH our adapter and the emulator, so `npm start` and the tests speak real
// WeChat Pay v3 cryptography end to end without anyone pasting keys around.
//
// The certificate is written by hand in DER (node:crypto signs; X509Certificate reads it back): no package needed,
// and no openssl at run time.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEV_MCHID = '1900000001';
export const DEV_APPID = 'wxd678efh567hg6787';

export interface DevKeyOptions {
  /** Which platform key the adapter is told about: the newer public key (default) or the platform certificate. */
  mode?: 'public_key' | 'certificate';
  /** Where the emulator listens (WECHATPAY_API_URL points there); default 3101. */
  port?: number;
}

interface DevKeyState {
  mchId: string;
  appId: string;
  merchantSerial: string;
  publicKeyId: string;
  platformSerial: string;
  apiV3Key: string;
}

const FILES = {
  state: 'wechatpay-dev.json',
  merchantKey: 'wechatpay-merchant-key.pem',
  merchantPublicKey: 'wechatpay-merchant-public-key.pem',
  platformKey: 'wechatpay-platform-key.pem',
  platformPublicKey: 'wechatpay-platform-public-key.pem',
  platformCert: 'wechatpay-platform-cert.pem',
};

// ---- a minimal DER writer: just what a self-signed X.509 v3 certificate needs --------------------------------------

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => der(0x31, Buffer.concat(parts));
const positiveInteger = (bytes: Buffer) =>
  der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const bytes = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return der(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

const name = (commonName: string) =>
  seq(
    set(seq(oid('2.5.4.6'), der(0x13, Buffer.from('CN')))),
    set(seq(oid('2.5.4.10'), utf8('Tenpay.com (emulator)'))),
    set(seq(oid('2.5.4.3'), utf8(commonName))),
  );

/**
 * A self-signed certificate for `publicKey`, signed with `privateKey` (SHA256withRSA). Its serial is `serialHex`
 * (WeChat Pay's are 40 hex digits); valid from a day ago for five years.
 */
export function selfSignedCertificate(
  publicKey: KeyObject,
  privateKey: KeyObject,
  serialHex: string,
  commonName: string,
): string {
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), der(0x05, Buffer.alloc(0)));
  const now = Date.now();
  const tbs = seq(
    der(0xa0, positiveInteger(Buffer.from([2]))), // v3
    positiveInteger(Buffer.from(serialHex, 'hex')),
    sha256WithRsa,
    name(commonName),
    seq(time(new Date(now - 86_400_000)), time(new Date(now + 5 * 365 * 86_400_000))),
    name(commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = seq(tbs, sha256WithRsa, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const pem = `-----BEGIN CERTIFICATE-----\n${certificate
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END CERTIFICATE-----\n`;
  new X509Certificate(pem); // refuses what we got wrong, here rather than in a verifier later
  return pem;
}

/** 40 upper-case hex digits, first byte 0x10-0x7f: positive, and printed by every library without padding. */
function newSerial(): string {
  const bytes = randomBytes(20);
  bytes[0] = 0x10 + (bytes[0]! % 0x70);
  return bytes.toString('hex').toUpperCase();
}

function writeSecret(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode on write
}

function generate(dir: string): DevKeyState {
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const platformSerial = newSerial();
  const state: DevKeyState = {
    mchId: DEV_MCHID,
    appId: DEV_APPID,
    merchantSerial: newSerial(),
    // The real ids are PUB_KEY_ID_ + digits; ours derives from the key, so it names it.
    publicKeyId: `PUB_KEY_ID_0119${createHash('sha256')
      .update(platform.publicKey.export({ type: 'spki', format: 'der' }))
      .digest('hex')
      .replace(/[a-f]/g, '')
      .padEnd(28, '0')
      .slice(0, 28)}`,
    platformSerial,
    // 32 printable bytes, as the merchant platform makes merchants choose it.
    apiV3Key: randomBytes(24).toString('base64'),
  };
  const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => k.export({ type, format: 'pem' }) as string;
  writeSecret(join(dir, FILES.merchantKey), pem(merchant.privateKey, 'pkcs8'));
  writeSecret(join(dir, FILES.merchantPublicKey), pem(merchant.publicKey, 'spki'));
  writeSecret(join(dir, FILES.platformKey), pem(platform.privateKey, 'pkcs8'));
  writeSecret(join(dir, FILES.platformPublicKey), pem(platform.publicKey, 'spki'));
  writeSecret(
    join(dir, FILES.platformCert),
    selfSignedCertificate(platform.publicKey, platform.privateKey, platformSerial, 'Tenpay.com Root CA (emulator)'),
  );
  // The state file last: its presence says the set is complete.
  writeSecret(join(dir, FILES.state), `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

/**
 * The WeChat Pay development keys under `dir` (made on first use, files mode 0600), as the variables that configure
 * the adapter (WECHATPAY_*) and the emulator (WECHATPAY_EMULATOR_*), with WECHATPAY_ENABLED=true.
 */
export function ensureWechatPayDevKeys(dir: string, options: DevKeyOptions = {}): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const complete = Object.values(FILES).every((f) => existsSync(join(dir, f)));
  const state: DevKeyState = complete
    ? (JSON.parse(readFileSync(join(dir, FILES.state), 'utf8')) as DevKeyState)
    : generate(dir);
  const platform: Record<string, string> =
    (options.mode ?? 'public_key') === 'public_key'
      ? { WECHATPAY_PUBLIC_KEY_FILE: join(dir, FILES.platformPublicKey), WECHATPAY_PUBLIC_KEY_ID: state.publicKeyId }
      : { WECHATPAY_PLATFORM_CERT_FILES: join(dir, FILES.platformCert) };
  return {
    WECHATPAY_ENABLED: 'true',
    WECHATPAY_API_URL: `http://localhost:${options.port ?? 3101}`,
    WECHATPAY_MCHID: state.mchId,
    WECHATPAY_APPID: state.appId,
    WECHATPAY_MERCHANT_SERIAL: state.merchantSerial,
    WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: join(dir, FILES.merchantKey),
    WECHATPAY_API_V3_KEY: state.apiV3Key,
    // The emulator serves a day's trade bill as the day goes (WeChat Pay's is out the next morning).
    WECHATPAY_BILL_DELAY: '0',
    ...platform,
    ...(options.port !== undefined ? { WECHATPAY_EMULATOR_PORT: String(options.port) } : {}),
    WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE: join(dir, FILES.platformKey),
    WECHATPAY_EMULATOR_MERCHANT_PUBLIC_KEY_FILE: join(dir, FILES.merchantPublicKey),
  };
}
