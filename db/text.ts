// What PostgreSQL cannot store, and the rules that keep it out. `text` refuses U+0000 (NUL); `jsonb` refuses the
// \u0000 escape and a UTF-16 surrogate without its partner (JSON.stringify writes a lone one as \ud800, which
// PostgreSQL rejects), and node-postgres silently turns a lone surrogate in `text` into U+FFFD. Every such error
// used to surface as a 500. The API rejects these characters at the edge (400 naming the field); what must be
// stored anyway (the event log's copy of a rejected callback) is made storable with `storableJsonText`.

/**
 * C0 controls (NUL, tab, newline, ...), DEL and the C1 controls: never part of an id, a name or a reason we keep.
 * Written so that JavaScript, ECMA-262 JSON Schema validators and Python's `re` (Schemathesis) read it alike.
 */
export const CONTROL_CHARACTER_CLASS = '\\x00-\\x1f\\x7f-\\x9f';

/** The characters String.prototype.trim removes that are not control characters (so: blank). */
export const BLANK_CHARACTER_CLASS = ' \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';

const CONTROL = new RegExp(`[${CONTROL_CHARACTER_CLASS}]`);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function hasControlCharacters(s: string): boolean {
  return CONTROL.test(s);
}

/** False for a string holding a UTF-16 surrogate without its partner (valid JSON, invalid Unicode). */
export function isWellFormed(s: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return !LONE_SURROGATE.test(s);
}

/** Length in code points, as JSON Schema's minLength/maxLength count (String#length counts UTF-16 units). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function storableString(s: string): string {
  return s.replace(/\u0000/g, '\ufffd').replace(LONE_SURROGATE, '\ufffd');
}

/** Deeper than this, a stored payload says so instead (JSON.stringify recurses, and a 64 KB body nests 30,000 deep). */
export const MAX_STORED_JSON_DEPTH = 64;

function storableCopy(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return storableString(value);
  if (value === null || typeof value !== 'object') return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return storableCopy(toJSON.call(value), depth); // a Date, as JSON.stringify
  if (depth >= MAX_STORED_JSON_DEPTH) return `[nested deeper than ${MAX_STORED_JSON_DEPTH} levels: not stored]`;
  if (Array.isArray(value)) return value.map((item: unknown) => storableCopy(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [storableString(key), storableCopy(item, depth + 1)]),
  );
}

/**
 * JSON text PostgreSQL's jsonb accepts, for any value: NULs and lone surrogates, in strings and in keys, become
 * U+FFFD (the Unicode replacement character), and what nests deeper than MAX_STORED_JSON_DEPTH is replaced by a
 * note; everything else is serialised as JSON.stringify would.
 */
export function storableJsonText(value: unknown): string {
  return JSON.stringify(storableCopy(value, 0));
}
