// WeChat Pay API v3's cryptography, on node:crypto (no client library: the maintained ones either hard-code the
// production host or bring their own HTTP stack; what v3 needs is four small, well-specified operations):
//   - request signing: WECHATPAY2-SHA256-RSA2048 over "METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n" with the merchant key;
//   - response and notification verification: RSA-SHA256 over "TIMESTAMP\nNONCE\nBODY\n" with the platform key that
//     Wechatpay-Serial names (a platform certificate's serial, or a "WeChat Pay public key" id), 5 minutes of skew;
//   - notification `resource` decryption: AEAD-AES-GCM with the API v3 key (its length picks AES-128/192/256: the
//     vendor's own test vector uses a 16-byte key under the label AEAD_AES_256_GCM).
// Proven against the vector of the vendor's Go SDK (test/unit/wechatpay-crypto.test.ts).
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  type CipherGCMTypes,
  createSign,
  createVerify,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from 'node:crypto';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** The vendor's SDKs refuse a timestamp 5 minutes or more away from their clock. */
export const MAX_SKEW_SECONDS = 5 * 60;

/** The platform's public keys by the serial (or public key id) that Wechatpay-Serial carries. */
export class PlatformKeys {
  private readonly keys = new Map<string, KeyObject>();

  /** A platform certificate (PEM): its serial number, upper-case hex as WeChat Pay writes it, names its key. */
  addCertificate(pem: string): string {
    const cert = new X509Certificate(pem);
    const serial = cert.serialNumber.toUpperCase();
    this.keys.set(serial, cert.publicKey);
    return serial;
  }

  /** A "WeChat Pay public key" (PEM) and its id (PUB_KEY_ID_...), the newer mode without certificates. */
  addPublicKey(id: string, pem: string): void {
    this.keys.set(id, createPublicKey(pem));
  }

  get(serial: string): KeyObject | undefined {
    return this.keys.get(serial) ?? this.keys.get(serial.toUpperCase());
  }

  get size(): number {
    return this.keys.size;
  }
}

/** The text a request signature covers. `url` is the path with its query string, as sent. */
export function requestMessage(method: string, url: string, timestamp: number, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** The text a response or notification signature covers. */
export function responseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export interface MerchantIdentity {
  mchId: string;
  /** Serial number of the merchant's API certificate. */
  serialNo: string;
  privateKey: KeyObject | string;
}

/** The Authorization header of a v3 API request. */
export function authorization(
  merchant: MerchantIdentity,
  request: { method: string; url: string; body: string },
  options: { timestamp?: number; nonce?: string } = {},
): string {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? randomBytes(16).toString('hex').toUpperCase();
  const signature = createSign('RSA-SHA256')
    .update(requestMessage(request.method, request.url, timestamp, nonce, request.body))
    .sign(merchant.privateKey, 'base64');
  return (
    `${AUTH_SCHEMA} mchid="${merchant.mchId}",nonce_str="${nonce}",timestamp="${timestamp}",` +
    `serial_no="${merchant.serialNo}",signature="${signature}"`
  );
}

/** Within the vendor's skew: less than 5 minutes either way (its SDKs refuse 300 s and more). */
const fresh = (timestamp: string, nowMs: number) =>
  Math.abs(Math.floor(nowMs / 1000) - Number(timestamp)) < MAX_SKEW_SECONDS;

const rsaVerifies = (key: KeyObject, message: string, signature: string) =>
  createVerify('RSA-SHA256').update(message).verify(key, Buffer.from(signature, 'base64'));

export type AuthorizationCheck =
  | { ok: true; mchId: string; serialNo: string }
  | { ok: false; reason: 'missing_signature' | 'unknown_serial' | 'stale_timestamp' | 'bad_signature' };

/**
 * The platform's side of request signing (our emulator's): parses a merchant's Authorization header, finds the
 * merchant key by its serial_no, and checks the signature over method, URL, timestamp, nonce and body.
 */
export function verifyAuthorization(
  header: string | undefined,
  request: { method: string; url: string; body: string },
  merchantKeys: PlatformKeys,
  nowMs: number,
): AuthorizationCheck {
  if (!header?.startsWith(`${AUTH_SCHEMA} `)) return { ok: false, reason: 'missing_signature' };
  const fields = Object.fromEntries(
    [...header.slice(AUTH_SCHEMA.length + 1).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
  );
  const { mchid, nonce_str: nonce, timestamp, serial_no: serialNo, signature } = fields;
  if (!mchid || !nonce || !timestamp || !serialNo || !signature || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: 'missing_signature' };
  }
  if (!fresh(timestamp, nowMs)) return { ok: false, reason: 'stale_timestamp' };
  const key = merchantKeys.get(serialNo);
  if (!key) return { ok: false, reason: 'unknown_serial' };
  const valid = rsaVerifies(
    key,
    requestMessage(request.method, request.url, Number(timestamp), nonce, request.body),
    signature,
  );
  return valid ? { ok: true, mchId: mchid, serialNo } : { ok: false, reason: 'bad_signature' };
}

/** Signs a response or notification as the platform does (for our emulator, and for tests). */
export function signResponse(privateKey: KeyObject | string, timestamp: string, nonce: string, body: string): string {
  return createSign('RSA-SHA256')
    .update(responseMessage(timestamp, nonce, body))
    .sign(privateKey, 'base64');
}

export type SignatureCheck =
  | { ok: true }
  | { ok: false; reason: 'missing_signature' | 'unknown_serial' | 'stale_timestamp' | 'bad_signature' };

/**
 * Checks the Wechatpay-* headers of a response or notification: all present, the timestamp within 5 minutes of
 * `nowMs`, the key known by its serial, and the RSA-SHA256 signature over the exact body bytes.
 */
export function verifySignature(
  header: (name: string) => string | undefined,
  body: string,
  keys: PlatformKeys,
  nowMs: number,
): SignatureCheck {
  const timestamp = header('wechatpay-timestamp');
  const nonce = header('wechatpay-nonce');
  const signature = header('wechatpay-signature');
  const serial = header('wechatpay-serial');
  if (!timestamp || !nonce || !signature || !serial || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: 'missing_signature' };
  }
  if (!fresh(timestamp, nowMs)) return { ok: false, reason: 'stale_timestamp' };
  const key = keys.get(serial);
  if (!key) return { ok: false, reason: 'unknown_serial' };
  return rsaVerifies(key, responseMessage(timestamp, nonce, body), signature)
    ? { ok: true }
    : { ok: false, reason: 'bad_signature' };
}

export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string;
}

/** Thrown when a resource does not decrypt: a wrong key, or a tampered ciphertext, nonce or associated data. */
export class ResourceDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceDecryptionError';
  }
}

const GCM_TAG_BYTES = 16;

/** Decrypts a notification's `resource` with the API v3 key. The cipher's key size is the key's own length. */
export function decryptResource(resource: EncryptedResource, apiV3Key: string): string {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (![16, 24, 32].includes(key.length)) {
    throw new ResourceDecryptionError(`the API v3 key is ${key.length} bytes; AES needs 16, 24 or 32`);
  }
  if (!/^AEAD_AES_\d+_GCM$/.test(resource.algorithm)) {
    throw new ResourceDecryptionError(`unsupported resource algorithm ${resource.algorithm}`);
  }
  const data = Buffer.from(resource.ciphertext, 'base64');
  if (data.length < GCM_TAG_BYTES) throw new ResourceDecryptionError('the ciphertext is shorter than its tag');
  try {
    const decipher = createDecipheriv(
      `aes-${key.length * 8}-gcm` as CipherGCMTypes,
      key,
      Buffer.from(resource.nonce, 'utf8'),
    );
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - GCM_TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - GCM_TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new ResourceDecryptionError('the resource did not decrypt (wrong API v3 key, or tampered data)');
  }
}

/** Encrypts a resource as WeChat Pay does (for our emulator, and for tests). */
export function encryptResource(
  plaintext: string,
  apiV3Key: string,
  options: { nonce?: string; associatedData?: string; algorithm?: string } = {},
): EncryptedResource {
  const key = Buffer.from(apiV3Key, 'utf8');
  const nonce = options.nonce ?? randomBytes(6).toString('hex');
  const associatedData = options.associatedData ?? 'transaction';
  const cipher = createCipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    algorithm: options.algorithm ?? 'AEAD_AES_256_GCM',
    ciphertext: data.toString('base64'),
    nonce,
    associated_data: associatedData,
  };
}
