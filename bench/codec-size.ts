// What compression buys the payload codec (codec/encryption-codec.ts), measured on real payloads: every payload of the
// recorded histories (test/histories/current), and the hand-written samples of test/fixtures/payload-samples.ts.
// Sizes are of the Payload protobuf, the codec's plaintext. Run: npx tsx bench/codec-size.ts
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, deflateRawSync, inflateRawSync, brotliDecompressSync } from 'node:zlib';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createSecretKey, randomBytes } from 'node:crypto';
import { COMPRESS_MIN_BYTES, EncryptionCodec } from '../codec/encryption-codec';
import { SAMPLES } from '../test/fixtures/payload-samples';

const root = join(__dirname, '..');
const brotli = (b: Uint8Array) =>
  brotliCompressSync(b, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: b.length },
  });

/** Every {metadata, data} object of a history exported as JSON (payload bytes in base64). */
function historyPayloads(): Payload[] {
  const found: Payload[] = [];
  // Search attributes are not payloads a codec sees (the server indexes them): left out.
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if ('indexedFields' in o) return;
    if (o.metadata && typeof o.metadata === 'object' && (typeof o.data === 'string' || o.data === undefined)) {
      const metadata = Object.fromEntries(
        Object.entries(o.metadata as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
      );
      found.push({ metadata, data: Buffer.from((o.data as string | undefined) ?? '', 'base64') });
      return;
    }
    Object.values(o).forEach(walk);
  };
  const dir = join(root, 'test', 'histories', 'current');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    walk(JSON.parse(readFileSync(join(dir, f), 'utf8')));
  }
  return found;
}

function time(fn: () => void, rounds: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / rounds; // µs
}

function row(name: string, payloads: Payload[]): void {
  const plain = payloads.map((p) => temporal.api.common.v1.Payload.encode(p).finish());
  const total = (xs: Uint8Array[]) => xs.reduce((n, x) => n + x.length, 0);
  const deflated = plain.map((p) => deflateRawSync(p));
  const brotlied = plain.map((p) => brotli(p));
  const smaller = plain.filter((p, i) => deflated[i]!.length < p.length).length;
  const stored = plain.map((p, i) => (deflated[i]!.length < p.length ? deflated[i]! : p));
  const pct = (n: number) => `${Math.round((100 * (n - total(plain))) / total(plain))}%`;
  console.log(
    `${name.padEnd(34)} n=${String(payloads.length).padStart(3)}  plain ${total(plain)}  ` +
      `deflate ${total(deflated)} (${pct(total(deflated))})  brotli-q5 ${total(brotlied)} (${pct(total(brotlied))})  ` +
      `deflate-if-smaller ${total(stored)} (${pct(total(stored))}, ${smaller} of ${payloads.length} compressed)`,
  );
}

async function main(): Promise<void> {
  const recorded = historyPayloads();
  row('recorded histories, all payloads', recorded);
  for (const [name, value] of Object.entries(SAMPLES)) row(name, [defaultPayloadConverter.toPayload(value)]);

  // Time per payload, mean over the recorded ones, many rounds.
  const plain = recorded.map((p) => temporal.api.common.v1.Payload.encode(p).finish());
  const rounds = 200;
  const deflated = plain.map((p) => deflateRawSync(p));
  const brotlied = plain.map((p) => brotli(p));
  const per = (fn: () => void) => (time(fn, rounds) / plain.length).toFixed(1);
  console.log(
    `time per payload (µs): deflate ${per(() => plain.forEach((p) => deflateRawSync(p)))}, ` +
      `inflate ${per(() => deflated.forEach((p) => inflateRawSync(p)))}, ` +
      `brotli-q5 ${per(() => plain.forEach((p) => brotli(p)))}, ` +
      `unbrotli ${per(() => brotlied.forEach((p) => brotliDecompressSync(p)))}`,
  );
  const keys = [{ id: 'k', key: createSecretKey(randomBytes(32)) }];
  for (const [compress, minBytes] of [
    [false, 0],
    [true, 64],
    [true, COMPRESS_MIN_BYTES],
    [true, 256],
  ] as const) {
    const codec = new EncryptionCodec({ keys, compress, compressMinBytes: minBytes });
    const encoded = await codec.encode(recorded);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await codec.encode(recorded);
    const enc = Number(process.hrtime.bigint() - t0) / 1e3 / rounds / recorded.length;
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) await codec.decode(encoded);
    const dec = Number(process.hrtime.bigint() - t1) / 1e3 / rounds / recorded.length;
    const size = encoded.reduce((n, p) => n + temporal.api.common.v1.Payload.encode(p).finish().length, 0);
    console.log(
      `codec compress=${compress ? `from ${minBytes} bytes` : 'off'}: stored ${size} bytes for the recorded payloads; ` +
        `encode ${enc.toFixed(1)} µs, decode ${dec.toFixed(1)} µs per payload`,
    );
  }
}

void main();
