// The payload codec's keys in the configuration (codec/keys.ts through config/index.ts): the formats, the mistakes a
// person makes with them, named without ever printing a key, and the development key `npm start` makes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { loadConfig } from '../../config';
import { dataConverterFor } from '../../codec/data-converter';
import { type EncryptionCodec } from '../../codec/encryption-codec';
import { DEV_PAYLOAD_KEY_FILE, ensureDevPayloadKey } from '../../codec/keys';
import { problemsOf } from '../support/config-problems';

const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');
const PROD = {
  NODE_ENV: 'production',
  SANDBOXPAY_SECRET: 'a-production-sandboxpay-secret-4d1f',
  ADMIN_API_KEY: 'a-production-admin-key-8b2e',
  ORDER_NOTIFY_SIGNING_KEYS: 'k1:9f0c2b7e4a1d6e3f8b5c0a7d2e9f4b1c6a3d8e5f',
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'payload-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('PAYLOAD_ENCRYPTION_KEYS and PAYLOAD_ENCRYPTION_KEY_FILE', () => {
  it('take keyId:base64 entries in order: the first encrypts, all decrypt', async () => {
    const config = loadConfig({ PAYLOAD_ENCRYPTION_KEYS: ` k-2026:${K2} , k-2025:${K1}` });
    expect(config.payloadEncryption.mode).toBe('optional');
    expect(config.payloadEncryption.keys.map((k) => k.id)).toEqual(['k-2026', 'k-2025']);
    expect(config.payloadEncryption.keys[0]!.key.export().toString('base64')).toBe(K2);

    const file = join(dir, 'keys');
    writeFileSync(file, `# rotated 2026-01-01\nk-2026:${K2}\n\n  k-2025:${K1}  \n`);
    const fromFile = loadConfig({ PAYLOAD_ENCRYPTION_KEY_FILE: file }).payloadEncryption;
    expect(fromFile.keys.map((k) => k.id)).toEqual(['k-2026', 'k-2025']);

    // What the configuration builds encrypts with the first key.
    const codec = dataConverterFor(config)!.payloadCodecs![0] as EncryptionCodec;
    expect(codec.encryptingKeyId).toBe('k-2026');
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload({ a: 1 })]);
    expect(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString()).toBe('k-2026');
  });

  it('never shows a key in a serialized configuration', () => {
    const config = loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `k1:${K1},k2:${K2}` });
    const json = JSON.stringify(config);
    for (const key of [K1, K2, Buffer.from(K1, 'base64').toString('hex')]) expect(json).not.toContain(key);
  });

  it('names each mistake by variable, position and key id, never the key', () => {
    const short = randomBytes(16).toString('base64');
    const cases: [Record<string, string>, string][] = [
      [
        { PAYLOAD_ENCRYPTION_KEYS: `k1:${short}` },
        'PAYLOAD_ENCRYPTION_KEYS: key "k1" is 16 bytes; AES-256 needs exactly 32',
      ],
      [
        { PAYLOAD_ENCRYPTION_KEYS: `k1:${K1.slice(0, 20)}!${K1.slice(21)}` },
        'PAYLOAD_ENCRYPTION_KEYS: key "k1" is not base64 (make one with: openssl rand -base64 32)',
      ],
      [
        { PAYLOAD_ENCRYPTION_KEYS: `k1:${K1.slice(0, 42)}_` },
        'PAYLOAD_ENCRYPTION_KEYS: key "k1" is not base64 (make one with: openssl rand -base64 32)',
      ],
      [{ PAYLOAD_ENCRYPTION_KEYS: `k1:${K1},k1:${K2}` }, 'PAYLOAD_ENCRYPTION_KEYS: key id "k1" is listed twice'],
      [{ PAYLOAD_ENCRYPTION_KEYS: `k1:${K1},k2:${K1}` }, 'PAYLOAD_ENCRYPTION_KEYS: key "k2" is the same key as "k1"'],
      [
        { PAYLOAD_ENCRYPTION_KEYS: `k1:${K1},${K2}` },
        'PAYLOAD_ENCRYPTION_KEYS: entry 2 must be keyId:base64key (keyId of letters, digits, . _ -)',
      ],
      [
        { PAYLOAD_ENCRYPTION_KEYS: `key one:${K1}` },
        'PAYLOAD_ENCRYPTION_KEYS: entry 1 must be keyId:base64key (keyId of letters, digits, . _ -)',
      ],
      [
        { PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32).toString('base64')}` },
        'PAYLOAD_ENCRYPTION_KEYS: key "k1" is one byte repeated; use random bytes (openssl rand -base64 32)',
      ],
      [
        { PAYLOAD_ENCRYPTION_KEYS: `k1:${K1}`, PAYLOAD_ENCRYPTION_KEY_FILE: join(dir, 'k') },
        'PAYLOAD_ENCRYPTION_KEYS: set it or PAYLOAD_ENCRYPTION_KEY_FILE, not both',
      ],
      [
        { PAYLOAD_ENCRYPTION_KEY_FILE: join(dir, 'missing') },
        `PAYLOAD_ENCRYPTION_KEY_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`,
      ],
      [{ PAYLOAD_ENCRYPTION: 'maybe' }, 'PAYLOAD_ENCRYPTION: '],
    ];
    for (const [env, expected] of cases) {
      const problems = problemsOf(env);
      expect(problems).toEqual([expect.stringContaining(expected)]);
      for (const key of [K1, K2, short]) expect(problems.join('\n')).not.toContain(key);
    }
    const file = join(dir, 'keys');
    writeFileSync(file, `k1:${K1}\n# old\nk2:${short}\n`);
    expect(problemsOf({ PAYLOAD_ENCRYPTION_KEY_FILE: file })).toEqual([
      'PAYLOAD_ENCRYPTION_KEY_FILE: key "k2" is 16 bytes; AES-256 needs exactly 32',
    ]);
    writeFileSync(file, `k1:${K1}\n# old\n${K2}\n`);
    expect(problemsOf({ PAYLOAD_ENCRYPTION_KEY_FILE: file })).toEqual([
      'PAYLOAD_ENCRYPTION_KEY_FILE: line 3 must be keyId:base64key (keyId of letters, digits, . _ -)',
    ]);
    writeFileSync(file, '# nothing yet\n');
    expect(problemsOf({ PAYLOAD_ENCRYPTION_KEY_FILE: file })).toEqual([
      `PAYLOAD_ENCRYPTION_KEY_FILE: ${file} holds no key`,
    ]);
  });
});

describe('PAYLOAD_ENCRYPTION', () => {
  it('is required in production: no key, no start, unless turned off on purpose', () => {
    expect(problemsOf(PROD)).toEqual([
      'PAYLOAD_ENCRYPTION_KEYS: required in production when PAYLOAD_ENCRYPTION=required ' +
        '(or PAYLOAD_ENCRYPTION_KEY_FILE; PAYLOAD_ENCRYPTION=off runs without encrypting payloads)',
    ]);
    expect(loadConfig({ ...PROD, PAYLOAD_ENCRYPTION_KEYS: `k1:${K1}` }).payloadEncryption.mode).toBe('required');
    const off = loadConfig({ ...PROD, PAYLOAD_ENCRYPTION: 'off' });
    expect(off.payloadEncryption).toEqual({ mode: 'off', keys: [] });
    expect(dataConverterFor(off)).toBeUndefined();
  });

  it('is optional elsewhere: payloads in clear without a key, encrypted with one; required means required', () => {
    const none = loadConfig({});
    expect(none.payloadEncryption).toEqual({ mode: 'optional', keys: [] });
    expect(dataConverterFor(none)).toBeUndefined();
    expect(problemsOf({ PAYLOAD_ENCRYPTION: 'required' })).toEqual([
      expect.stringMatching(/^PAYLOAD_ENCRYPTION_KEYS: required when PAYLOAD_ENCRYPTION=required/),
    ]);
    const converter = dataConverterFor(loadConfig({ PAYLOAD_ENCRYPTION_KEYS: `k1:${K1}` }));
    expect(converter?.payloadCodecs).toHaveLength(1);
    expect(converter?.failureConverterPath).toMatch(/codec[/\\]failure-converter\.ts$/);
  });
});

describe('the development key (ensureDevPayloadKey, for npm start)', () => {
  it('is made once under keys/, readable by its owner only, and handed on as the key file', () => {
    const env = ensureDevPayloadKey(dir, {});
    const file = join(dir, DEV_PAYLOAD_KEY_FILE);
    expect(env).toEqual({ PAYLOAD_ENCRYPTION_KEY_FILE: file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys')).mode & 0o777).toBe(0o700);
    const first = readFileSync(file, 'utf8');
    expect(ensureDevPayloadKey(dir, {})).toEqual(env);
    expect(readFileSync(file, 'utf8')).toBe(first);

    const config = loadConfig(env).payloadEncryption;
    expect(config.mode).toBe('optional');
    expect(config.keys).toEqual([{ id: expect.stringMatching(/^dev-[0-9a-f]{8}$/), key: expect.anything() }]);
    expect(dataConverterFor({ payloadEncryption: config })).toBeDefined();
  });

  it('is not made when keys are configured, encryption is off, or in production', () => {
    for (const env of [
      { PAYLOAD_ENCRYPTION_KEYS: `k1:${K1}` },
      { PAYLOAD_ENCRYPTION_KEY_FILE: join(dir, 'mine') },
      { PAYLOAD_ENCRYPTION: 'off' },
      { NODE_ENV: 'production' },
    ]) {
      expect(ensureDevPayloadKey(dir, env)).toEqual({});
    }
    expect(() => statSync(join(dir, DEV_PAYLOAD_KEY_FILE))).toThrow(/ENOENT/);
  });
});
