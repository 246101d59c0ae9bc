// The payload codec (codec/encryption-codec.ts) on payloads made the way the SDK makes them: what Temporal would store
// holds none of the payment's data, comes back exactly, cannot be altered unnoticed, and a key that is missing is named.
import { createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import {
  ApplicationFailure,
  type DataConverter,
  defaultPayloadConverter,
  METADATA_ENCODING_KEY,
  type Payload,
} from '@temporalio/common';
import {
  decodeFailure,
  decodeOptionalFailureToOptionalError,
  encodeErrorToFailure,
} from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/data-converter-helpers';
import { temporal } from '@temporalio/proto';
import { dataConverterFor } from '../../codec/data-converter';
import {
  COMPRESS_MIN_BYTES,
  ENCODING_ENCRYPTED,
  EncryptionCodec,
  FORMAT_DEFLATE,
  FORMAT_RAW,
  METADATA_KEY_ID,
  PayloadDecryptionError,
  UnknownPayloadKeyError,
} from '../../codec/encryption-codec';
import type { PayloadKey } from '../../codec/keys';
import {
  ORDER_ID,
  paymentInput,
  statusView,
  WECHAT_OPENID,
  WECHAT_TRANSACTION_ID,
  wechatPayResource,
} from '../fixtures/payload-samples';

const keyOf = (id: string, bytes: Buffer = randomBytes(32)): PayloadKey & { bytes: Buffer } => ({
  id,
  key: createSecretKey(bytes),
  bytes,
});
const A = keyOf('key-a');
const B = keyOf('key-b');

const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload): unknown => defaultPayloadConverter.fromPayload(payload);
const bytesOf = (payload: Payload) => Buffer.from(temporal.api.common.v1.Payload.encode(payload).finish());
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

/** Every 8-byte run of `needle` found in `haystack` (a chance match of random bytes: about 2^-64 per position). */
function sharedRuns(haystack: Buffer, needle: Uint8Array, width = 8): string[] {
  const found: string[] = [];
  for (let i = 0; i + width <= needle.length; i++) {
    const run = needle.subarray(i, i + width);
    if (haystack.includes(Buffer.from(run))) found.push(Buffer.from(run).toString('utf8'));
  }
  return found;
}

/** The AES-GCM plaintext of an encoded payload, decrypted by hand: what the format byte says. */
function formatByte(encoded: Payload, key: PayloadKey & { bytes: Buffer }): number {
  const data = Buffer.from(encoded.data!);
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(`${ENCODING_ENCRYPTED}\n${key.id}`));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()])[0]!;
}

describe('the payload codec', () => {
  const codec = new EncryptionCodec({ keys: [A] });
  const values = [
    paymentInput,
    wechatPayResource,
    statusView,
    'a string',
    42,
    null,
    new Uint8Array([1, 2, 3]),
    undefined,
  ];

  it('gives back exactly the payloads the SDK made, their encodings included', async () => {
    const payloads = values.map(toPayload);
    const decoded = await codec.decode(await codec.encode(payloads));
    expect(decoded.map(bytesOf)).toEqual(payloads.map(bytesOf));
    expect(decoded.map((p) => text(p.metadata?.[METADATA_ENCODING_KEY]))).toEqual([
      'json/plain',
      'json/plain',
      'json/plain',
      'json/plain',
      'json/plain',
      'json/plain',
      'binary/plain',
      'binary/null',
    ]);
    expect(decoded.map(fromPayload)).toEqual(values);
    expect(await codec.encode([])).toEqual([]);
  });

  it('stores only ciphertext and the key id: no run of the plaintext, neither its encoding', async () => {
    for (const value of [paymentInput, wechatPayResource, statusView]) {
      const payload = toPayload(value);
      const [encoded] = await codec.encode([payload]);
      expect(Object.keys(encoded!.metadata!).sort()).toEqual([METADATA_ENCODING_KEY, METADATA_KEY_ID].sort());
      expect(text(encoded!.metadata![METADATA_ENCODING_KEY])).toBe(ENCODING_ENCRYPTED);
      expect(text(encoded!.metadata![METADATA_KEY_ID])).toBe(A.id);
      const stored = bytesOf(encoded!);
      expect(sharedRuns(stored, payload.data!)).toEqual([]);
      for (const secret of [ORDER_ID, WECHAT_OPENID, WECHAT_TRANSACTION_ID, '258899', 'json/plain']) {
        expect(stored.includes(Buffer.from(secret))).toBe(false);
      }
    }
  });

  it('uses a fresh IV for every payload: the same value twice is two different ciphertexts', async () => {
    const payload = toPayload(paymentInput);
    const encoded = await codec.encode([payload, payload, payload]);
    const again = await codec.encode([payload]);
    const ivs = [...encoded, ...again].map((p) => Buffer.from(p.data!.subarray(0, 12)).toString('hex'));
    expect(new Set(ivs).size).toBe(4);
    expect(new Set([...encoded, ...again].map((p) => Buffer.from(p.data!).toString('hex'))).size).toBe(4);
  });

  it('refuses a payload altered anywhere: ciphertext, IV, tag, or the key id beside it', async () => {
    const [encoded] = await codec.encode([toPayload(paymentInput)]);
    const flip = (at: number): Payload => {
      const data = Buffer.from(encoded!.data!);
      data[at]! ^= 0x01;
      return { ...encoded, data };
    };
    const length = encoded!.data!.length;
    for (const altered of [flip(0), flip(12), flip(Math.floor(length / 2)), flip(length - 1)]) {
      await expect(codec.decode([altered])).rejects.toThrow(
        new PayloadDecryptionError(
          `payload encrypted with key "key-a" failed authentication: altered, or encrypted with another key of that id`,
        ),
      );
    }
    // The same key under another id: the id is authenticated, so a payload cannot be moved to another key's name.
    const renamed = new EncryptionCodec({ keys: [{ id: 'key-x', key: A.key }] });
    const relabelled = {
      ...encoded,
      metadata: { ...encoded!.metadata, [METADATA_KEY_ID]: Buffer.from('key-x') },
    };
    await expect(renamed.decode([relabelled])).rejects.toThrow(/key "key-x" failed authentication/);
    await expect(codec.decode([{ ...encoded, data: encoded!.data!.subarray(0, 20) }])).rejects.toThrow(
      /key "key-a" is too short/,
    );
  });

  it('fails loudly on a key it does not hold, naming it, and never hands the ciphertext on', async () => {
    const [encoded] = await new EncryptionCodec({ keys: [B] }).encode([toPayload(paymentInput)]);
    const error = await codec.decode([encoded!]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(UnknownPayloadKeyError);
    expect((error as UnknownPayloadKeyError).keyId).toBe('key-b');
    expect((error as Error).message).toBe(
      'payload encrypted with key "key-b", which is not configured here (configured: "key-a"); ' +
        'add it to PAYLOAD_ENCRYPTION_KEYS (or the key file) after the current key',
    );
    const unlabelled = { ...encoded, metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCODING_ENCRYPTED) } };
    await expect(codec.decode([unlabelled])).rejects.toThrow(`encrypted payload without a readable ${METADATA_KEY_ID}`);
  });

  it('passes payloads that were never encrypted through, so histories from before encryption stay readable', async () => {
    const clear = values.map(toPayload);
    const decoded = await codec.decode(clear);
    expect(decoded.map(bytesOf)).toEqual(clear.map(bytesOf));
    // Mixed, as a history that straddles the switch is.
    const [encrypted] = await codec.encode([toPayload(statusView)]);
    expect((await codec.decode([clear[0]!, encrypted!])).map(fromPayload)).toEqual([paymentInput, statusView]);
  });

  it("rotates: encrypted with A, read with [B, A]; new payloads under B; with A gone, A's payloads fail by name", async () => {
    const underA = await new EncryptionCodec({ keys: [A] }).encode([toPayload(paymentInput)]);
    const rotated = new EncryptionCodec({ keys: [B, A] });
    expect((await rotated.decode(underA)).map(fromPayload)).toEqual([paymentInput]);
    expect(rotated.encryptingKeyId).toBe('key-b');
    const underB = await rotated.encode([toPayload(statusView)]);
    expect(text(underB[0]!.metadata![METADATA_KEY_ID])).toBe('key-b');
    const onlyB = new EncryptionCodec({ keys: [B] });
    expect((await onlyB.decode(underB)).map(fromPayload)).toEqual([statusView]);
    await expect(onlyB.decode(underA)).rejects.toThrow(
      /key "key-a", which is not configured here \(configured: "key-b"\)/,
    );
  });

  it('deflates payloads worth it (marked inside the ciphertext) and leaves small ones as they are', async () => {
    const big = toPayload(wechatPayResource);
    const small = toPayload('p-1');
    expect(bytesOf(big).length).toBeGreaterThanOrEqual(COMPRESS_MIN_BYTES);
    expect(bytesOf(small).length).toBeLessThan(COMPRESS_MIN_BYTES);
    const [bigEncoded, smallEncoded] = await codec.encode([big, small]);
    expect(formatByte(bigEncoded!, A)).toBe(FORMAT_DEFLATE);
    expect(formatByte(smallEncoded!, A)).toBe(FORMAT_RAW);
    // Smaller than the plaintext it carries despite IV and tag: the compression paid.
    expect(bigEncoded!.data!.length).toBeLessThan(bytesOf(big).length);
    expect((await codec.decode([bigEncoded!, smallEncoded!])).map(fromPayload)).toEqual([wechatPayResource, 'p-1']);
    // Incompressible bytes are stored raw even when large; a codec told not to compress never does.
    const [noise] = await codec.encode([toPayload(new Uint8Array(randomBytes(600)))]);
    expect(formatByte(noise!, A)).toBe(FORMAT_RAW);
    const [plain] = await new EncryptionCodec({ keys: [A], compress: false }).encode([big]);
    expect(formatByte(plain!, A)).toBe(FORMAT_RAW);
    expect((await codec.decode([plain!])).map(fromPayload)).toEqual([wechatPayResource]);
  });

  it('only decodes when told not to encrypt (PAYLOAD_ENCRYPTION=off with keys still listed)', async () => {
    const decodeOnly = new EncryptionCodec({ keys: [A], encrypt: false });
    const clear = [toPayload(paymentInput)];
    expect(await decodeOnly.encode(clear)).toBe(clear);
    expect(decodeOnly.encryptingKeyId).toBeUndefined();
    expect((await decodeOnly.decode(await codec.encode(clear))).map(fromPayload)).toEqual([paymentInput]);
  });
});

describe('failures through the data converter', () => {
  const config = (keys: PayloadKey[], mode: 'required' | 'optional' | 'off' = 'required') => ({
    payloadEncryption: { mode, keys },
  });
  const load = (converter: DataConverter | undefined) => loadDataConverter(converter);

  it("stores a failure as the SDK's placeholder, its message and stack encrypted, and the codec gives them back", async () => {
    const converter = load(dataConverterFor(config([A])));
    const error = ApplicationFailure.create({
      message: `order service refused order ${ORDER_ID}: amount 258899 CNY`,
      type: 'OrderRefused',
      nonRetryable: true,
      details: [{ orderId: ORDER_ID }],
    });
    const failure = await encodeErrorToFailure(converter, error);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(failure.applicationFailureInfo?.type).toBe('OrderRefused');
    const stored = Buffer.from(temporal.api.failure.v1.Failure.encode(failure).finish());
    expect(stored.includes(Buffer.from(ORDER_ID))).toBe(false);
    expect(stored.includes(Buffer.from('258899'))).toBe(false);
    expect(text(failure.encodedAttributes?.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCODING_ENCRYPTED);

    const back = await decodeOptionalFailureToOptionalError(converter, failure);
    expect(back).toBeInstanceOf(ApplicationFailure);
    expect((back as ApplicationFailure).message).toBe(error.message);
    expect((back as ApplicationFailure).details).toEqual([{ orderId: ORDER_ID }]);
    expect(back!.stack).toContain('encryption-codec.test.ts');

    // The same through the codec alone, as a codec server decodes a failure for the Web UI.
    const decoded = await decodeFailure(converter.payloadCodecs, failure);
    expect(defaultPayloadConverter.fromPayload(decoded.encodedAttributes!)).toEqual({
      message: error.message,
      stack_trace: expect.stringContaining('encryption-codec.test.ts'),
    });
  });

  it('is the SDK default when there is no key; decode-only (messages in clear) when encryption is off', async () => {
    expect(dataConverterFor(config([], 'optional'))).toBeUndefined();
    expect(dataConverterFor(config([], 'off'))).toBeUndefined();
    const off = load(dataConverterFor(config([A], 'off')));
    const failure = await encodeErrorToFailure(off, ApplicationFailure.create({ message: `refused ${ORDER_ID}` }));
    expect(failure.message).toBe(`refused ${ORDER_ID}`);
    expect(failure.encodedAttributes).toBeFalsy();
    // ...and still reads what was encrypted before it was turned off.
    const before = await encodeErrorToFailure(
      load(dataConverterFor(config([A]))),
      ApplicationFailure.create({ message: `refused ${ORDER_ID}` }),
    );
    expect((await decodeOptionalFailureToOptionalError(off, before))!.message).toBe(`refused ${ORDER_ID}`);
  });
});
