// The keys of the payload codec (codec/encryption-codec.ts): how they are written in the configuration, how they are
// checked, and the development key `npm start` makes. config/index.ts calls payloadEncryptionConfig() once, with the
// other variables; nothing here reads process.env by itself.
//
// The variables (README, Configuration):
//   PAYLOAD_ENCRYPTION           required | optional | off. Default: required when NODE_ENV=production, else optional.
//                                required: a process without keys refuses to start. optional: encrypt when keys are
//                                configured, run in clear otherwise. off: encrypt nothing; keys that are listed still
//                                decrypt, so payments that started encrypted can finish after encryption is turned off.
//   PAYLOAD_ENCRYPTION_KEYS      `keyId:base64key[,keyId:base64key...]`
//   PAYLOAD_ENCRYPTION_KEY_FILE  a file of the same entries, one per line (blank lines and # comments ignored);
//                                set one of the two, not both.
// A key is 32 random bytes in base64 (`openssl rand -base64 32`); a key id is 1 to 64 of [A-Za-z0-9._-]. The first key
// encrypts; every key listed decrypts. Rotation: put the new key first and keep the old ones after it for as long as
// histories they encrypted are kept (the namespace's retention), then drop them.
import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PAYLOAD_ENCRYPTION_MODES = ['required', 'optional', 'off'] as const;
export type PayloadEncryptionMode = (typeof PAYLOAD_ENCRYPTION_MODES)[number];

/** An AES-256 key and the id written beside every payload it encrypts. A KeyObject serializes as {}: never logged. */
export interface PayloadKey {
  id: string;
  key: KeyObject;
}

export interface PayloadEncryptionConfig {
  mode: PayloadEncryptionMode;
  /** The first encrypts (unless mode is off); all decrypt. Empty: no codec at all. */
  keys: PayloadKey[];
}

/** What the configuration module hands over: the raw variables, already known to be strings. */
export interface PayloadEncryptionVariables {
  PAYLOAD_ENCRYPTION?: PayloadEncryptionMode;
  PAYLOAD_ENCRYPTION_KEYS?: string;
  PAYLOAD_ENCRYPTION_KEY_FILE?: string;
}

export const PAYLOAD_KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A new key entry, `keyId:base64`, for a key file or PAYLOAD_ENCRYPTION_KEYS. */
export function newPayloadKeyEntry(id: string): string {
  return `${id}:${randomBytes(PAYLOAD_KEY_BYTES).toString('base64')}`;
}

/**
 * Parses `keyId:base64key` entries. Problems name the variable, the entry's position (line, in a file) and the key id,
 * never a key's bytes. Returns no keys when any entry is bad: a half-read key list would encrypt with the wrong key.
 */
export function parsePayloadKeys(
  entries: { text: string; where: string }[],
  name: string,
  problems: string[],
): PayloadKey[] {
  const before = problems.length;
  const keys: PayloadKey[] = [];
  const seen = new Map<string, string>(); // key bytes (hex) -> id
  for (const { text, where } of entries) {
    const colon = text.indexOf(':');
    const id = colon > 0 ? text.slice(0, colon).trim() : '';
    const encoded = colon > 0 ? text.slice(colon + 1).trim() : '';
    if (!KEY_ID.test(id) || encoded === '') {
      problems.push(`${name}: ${where} must be keyId:base64key (keyId of letters, digits, . _ -)`);
      continue;
    }
    const bytes = Buffer.from(encoded, 'base64');
    // Buffer.from skips what is not base64; re-encoding shows whether every character counted.
    if (!BASE64.test(encoded) || bytes.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
      problems.push(`${name}: key "${id}" is not base64 (make one with: openssl rand -base64 32)`);
      continue;
    }
    if (bytes.length !== PAYLOAD_KEY_BYTES) {
      problems.push(`${name}: key "${id}" is ${bytes.length} bytes; AES-256 needs exactly ${PAYLOAD_KEY_BYTES}`);
      continue;
    }
    if (bytes.every((b) => b === bytes[0])) {
      problems.push(`${name}: key "${id}" is one byte repeated; use random bytes (openssl rand -base64 32)`);
      continue;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`${name}: key id "${id}" is listed twice`);
      continue;
    }
    const twin = seen.get(bytes.toString('hex'));
    if (twin !== undefined) {
      problems.push(`${name}: key "${id}" is the same key as "${twin}"`);
      continue;
    }
    seen.set(bytes.toString('hex'), id);
    keys.push({ id, key: createSecretKey(bytes) });
  }
  return problems.length > before ? [] : keys;
}

/** The entries of a key file: one per line, blank lines and `#` comments skipped. */
function keyFileEntries(text: string): { text: string; where: string }[] {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ text: line.trim(), where: `line ${i + 1}` }))
    .filter((e) => e.text !== '' && !e.text.startsWith('#'));
}

/**
 * The codec's configuration from its variables, checked together: one problem line per mistake, naming the variable.
 * `production` decides the default mode (required) and the hint in the message for a missing key.
 */
export function payloadEncryptionConfig(
  env: PayloadEncryptionVariables,
  production: boolean,
  problems: string[],
): PayloadEncryptionConfig {
  const mode: PayloadEncryptionMode = env.PAYLOAD_ENCRYPTION ?? (production ? 'required' : 'optional');
  const before = problems.length;
  let keys: PayloadKey[] = [];
  if (env.PAYLOAD_ENCRYPTION_KEYS !== undefined && env.PAYLOAD_ENCRYPTION_KEY_FILE !== undefined) {
    problems.push('PAYLOAD_ENCRYPTION_KEYS: set it or PAYLOAD_ENCRYPTION_KEY_FILE, not both');
  } else if (env.PAYLOAD_ENCRYPTION_KEYS !== undefined) {
    const entries = env.PAYLOAD_ENCRYPTION_KEYS.split(',').map((text, i) => ({ text, where: `entry ${i + 1}` }));
    keys = parsePayloadKeys(entries, 'PAYLOAD_ENCRYPTION_KEYS', problems);
  } else if (env.PAYLOAD_ENCRYPTION_KEY_FILE !== undefined) {
    const file = env.PAYLOAD_ENCRYPTION_KEY_FILE;
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(
        `PAYLOAD_ENCRYPTION_KEY_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (text !== undefined) {
      const entries = keyFileEntries(text);
      if (entries.length === 0) problems.push(`PAYLOAD_ENCRYPTION_KEY_FILE: ${file} holds no key`);
      keys = parsePayloadKeys(entries, 'PAYLOAD_ENCRYPTION_KEY_FILE', problems);
    }
  }
  if (mode === 'required' && keys.length === 0 && problems.length === before) {
    problems.push(
      `PAYLOAD_ENCRYPTION_KEYS: required${production ? ' in production' : ''} when PAYLOAD_ENCRYPTION=required ` +
        '(or PAYLOAD_ENCRYPTION_KEY_FILE; PAYLOAD_ENCRYPTION=off runs without encrypting payloads)',
    );
  }
  return { mode, keys: problems.length > before ? [] : keys };
}

export const DEV_PAYLOAD_KEY_FILE = join('keys', 'payload-encryption.key');

/**
 * For `npm start` (and the other stacks on this machine): the payload key of the data directory, made once (random,
 * mode 0600, under `<dataDir>/keys/`), and the variables that hand it to every process of the stack. Nothing when the
 * user configured keys, turned encryption off, or runs in production (a key made on the fly there would be lost with
 * the directory, and every history it encrypted with it: the configuration then asks for one).
 */
export function ensureDevPayloadKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.PAYLOAD_ENCRYPTION_KEYS || env.PAYLOAD_ENCRYPTION_KEY_FILE) return {};
  if (env.PAYLOAD_ENCRYPTION === 'off' || env.NODE_ENV === 'production') return {};
  const file = join(dataDir, DEV_PAYLOAD_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    const id = `dev-${randomBytes(4).toString('hex')}`;
    const header =
      '# Payload encryption keys of this development stack (codec/keys.ts): keyId:base64, one per line.\n' +
      '# The first encrypts, all decrypt. To rotate, add a new first line and keep this one below it.\n';
    // 'wx': two stacks starting at once cannot both write it; the loser reads the winner's key.
    try {
      writeFileSync(file, `${header}${newPayloadKeyEntry(id)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return { PAYLOAD_ENCRYPTION_KEY_FILE: file };
}
