// The payload codec: every payload a client or worker of ours sends to Temporal (workflow inputs and results, signals,
// updates, queries, activity inputs and results, memos, encoded failure messages) is encrypted here before it leaves
// the process, and decrypted here when it comes back. What Temporal stores, and what its database backups hold, is
// then ciphertext and a key id. Temporal's data-encryption sample (samples-typescript encryption/) is the model; the
// differences are ours: node:crypto, several keys for rotation, the metadata bound to the ciphertext, loud errors,
// and compression.
//
// An encoded payload:
//   metadata  encoding: binary/encrypted
//             encryption-key-id: <id of the key that encrypted it>
//   data      12-byte random IV | AES-256-GCM ciphertext | 16-byte tag
// The plaintext is one format byte (0: raw, 1: deflate-raw) and then the whole original Payload protobuf (its metadata
// and data), deflated when that is worth it (below), so the original encoding (json/plain, binary/null, ...) comes back
// as it was. The encoding and the key id are the GCM's additional authenticated data: changing either fails the tag
// like changing a byte of the ciphertext does.
//
// Decoding a payload that is not encrypted hands it back as it is (histories from before encryption stay readable). A
// payload encrypted with a key that is not configured, or that fails its tag, throws an error naming the key id: never
// the ciphertext passed on as if it were the value. In a worker that fails the workflow task (retried, visible in the
// Web UI) until the key is configured again.
//
// Compression, measured by bench/codec-size.ts (2 shared cores, times noisy to +-50%) on every payload a codec sees in
// the 20 recorded histories of test/histories/current (594 payloads, search attributes left out: workflow and activity
// inputs and results, signals, update results, markers, user metadata) and on hand-written samples
// (test/fixtures/payload-samples.ts); sizes are of the Payload protobuf, the codec's plaintext:
//
//   payloads                                   plain   deflate-raw (level 6)   brotli (quality 5)
//   recorded histories, 594 payloads          85,745   71,229 (-17%)           68,335 (-20%)
//   payment workflow input                       466      327 (-30%)              310 (-33%)
//   WeChat Pay callback resource (decrypted)     729      485 (-33%)              446 (-39%)
//   payment status result                        787      482 (-39%)              446 (-43%)
//   per payload: deflate 12-25 µs, inflate 5-12 µs; brotli 23-46 µs, 10-17 µs (zlib's set-up dominates at these sizes)
//
//   the codec on the 594 recorded payloads     stored bytes      encode / decode per payload
//   no compression                            136,546           14 / 8 µs
//   deflate from 64 bytes                     121,586 (-11%)    26 / 11 µs
//   deflate from 128 bytes (the default)      121,691 (-11%)    24 / 11 µs
//   deflate from 256 bytes                    130,348 (-5%)     15 / 9 µs
//
// It pays, modestly: a payment's history carries about 30 payloads, mostly small (half under 128 bytes); deflating
// those of 128 bytes or more takes about 11% off the encrypted payloads Temporal stores (some 750 bytes a payment) for
// roughly 0.5 ms of CPU a payment. deflate-raw rather than brotli: nearly the same ratio here at half the time. The
// compressed result is kept only when smaller. The format byte sits inside the ciphertext, not in the metadata: a
// metadata marker ("encryption-compression: deflate") costs about 30 bytes a payload, which ate most of the saving
// (measured: -8% instead of -17% of the plaintext), and this way whether a payload compressed is not shown in clear.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { PayloadKey } from './keys';

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
/** The plaintext's first byte: how the Payload protobuf after it is stored. */
export const FORMAT_RAW = 0x00;
export const FORMAT_DEFLATE = 0x01;

const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Smaller payloads are stored without trying to deflate them (see the measurements above). */
export const COMPRESS_MIN_BYTES = 128;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A payload says it is encrypted but cannot be decrypted here: the key is unknown, or the bytes are not what it made. */
export class PayloadDecryptionError extends Error {
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

/** The payload was encrypted with a key this process does not hold (rotated out too early, or another deployment's). */
export class UnknownPayloadKeyError extends PayloadDecryptionError {
  constructor(keyId: string, known: string[]) {
    super(
      `payload encrypted with key "${keyId}", which is not configured here ` +
        `(configured: ${known.map((k) => `"${k}"`).join(', ') || 'none'}); ` +
        'add it to PAYLOAD_ENCRYPTION_KEYS (or the key file) after the current key',
      keyId,
    );
    this.name = 'UnknownPayloadKeyError';
  }
}

export interface EncryptionCodecOptions {
  /** Every key that may have encrypted a stored payload; the first is the one that encrypts. At least one. */
  keys: PayloadKey[];
  /**
   * false: decode only, encode passes payloads through in clear (PAYLOAD_ENCRYPTION=off with keys still listed, so
   * what was encrypted stays readable). Default true.
   */
  encrypt?: boolean;
  /** Deflate before encrypting when that is smaller (see the measurements above). Default true. */
  compress?: boolean;
  /** Only payloads of this many bytes or more are deflated. Default COMPRESS_MIN_BYTES. */
  compressMinBytes?: number;
}

/** What the cipher authenticates beside the ciphertext: the metadata that says how to read it. */
function additionalData(keyId: string): Buffer {
  return Buffer.from(`${ENCODING_ENCRYPTED}\n${keyId}`, 'utf8');
}

function metadataText(payload: Payload, key: string): string | undefined {
  const value = payload.metadata?.[key];
  if (value === undefined || value === null) return undefined;
  try {
    return fromUtf8.decode(value);
  } catch {
    return undefined;
  }
}

export class EncryptionCodec implements PayloadCodec {
  private readonly keys: Map<string, PayloadKey>;
  private readonly current: PayloadKey;
  private readonly encrypt: boolean;
  private readonly compressMinBytes: number;

  constructor(options: EncryptionCodecOptions) {
    const [current] = options.keys;
    if (!current) throw new TypeError('EncryptionCodec needs at least one key');
    this.current = current;
    this.keys = new Map(options.keys.map((k) => [k.id, k]));
    if (this.keys.size !== options.keys.length) throw new TypeError('EncryptionCodec: a key id is listed twice');
    this.encrypt = options.encrypt ?? true;
    this.compressMinBytes = (options.compress ?? true) ? (options.compressMinBytes ?? COMPRESS_MIN_BYTES) : Infinity;
  }

  /** The id of the key new payloads are encrypted with (undefined when this codec only decodes). */
  get encryptingKeyId(): string | undefined {
    return this.encrypt ? this.current.id : undefined;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    if (!this.encrypt) return payloads;
    return payloads.map((payload) => this.encodeOne(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload));
  }

  private encodeOne(payload: Payload): Payload {
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    let format = FORMAT_RAW;
    let body: Uint8Array = plain;
    if (plain.length >= this.compressMinBytes) {
      const deflated = deflateRawSync(plain);
      if (deflated.length < plain.length) {
        format = FORMAT_DEFLATE;
        body = deflated;
      }
    }
    const { id, key } = this.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(id));
    const data = Buffer.concat([
      iv,
      cipher.update(Uint8Array.of(format)),
      cipher.update(body),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8.encode(ENCODING_ENCRYPTED),
        [METADATA_KEY_ID]: utf8.encode(id),
      },
      data,
    };
  }

  private decodeOne(payload: Payload): Payload {
    if (metadataText(payload, METADATA_ENCODING_KEY) !== ENCODING_ENCRYPTED) return payload;
    const keyId = metadataText(payload, METADATA_KEY_ID);
    if (!keyId) throw new PayloadDecryptionError(`encrypted payload without a readable ${METADATA_KEY_ID}`);
    const entry = this.keys.get(keyId);
    if (!entry) throw new UnknownPayloadKeyError(keyId, [...this.keys.keys()]);
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + 1 + TAG_BYTES) {
      throw new PayloadDecryptionError(`payload encrypted with key "${keyId}" is too short to be one of ours`, keyId);
    }
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const decipher = createDecipheriv(CIPHER, entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId));
    decipher.setAuthTag(tag);
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `payload encrypted with key "${keyId}" failed authentication: altered, or encrypted with another key of that id`,
        keyId,
      );
    }
    const format = plain[0];
    const body = plain.subarray(1);
    if (format === FORMAT_RAW) return temporal.api.common.v1.Payload.decode(body);
    if (format === FORMAT_DEFLATE) return temporal.api.common.v1.Payload.decode(inflateRawSync(body));
    throw new PayloadDecryptionError(`payload encrypted with key "${keyId}" has an unknown format ${format}`, keyId);
  }
}
