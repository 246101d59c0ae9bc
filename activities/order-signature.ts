// The signature on our notifications to the order service (docs/order-service.md, README "The order service"):
//
//   Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>[,v1=<hex>]
//
// One v1 per signing key we hold: normally one, two during a key rotation, so a receiver that holds either key
// accepts the request whichever side is rotated first. The receiver recomputes the HMAC over the exact bytes it
// received with each key it holds, compares in constant time, and then requires the timestamp within the tolerance
// (5 min either way), which bounds how long a captured request can be replayed. The body names the order and the
// idempotency key, so a replayed body cannot be pointed at another order or counted twice.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SigningKey } from '../config';

export type { SigningKey };

/** The header's name (HTTP header names are case-insensitive; Node hands them lower-cased). */
export const SIGNATURE_HEADER = 'Payment-Signature';
/** How far a signature's timestamp may be from the receiver's clock, either way. */
export const SIGNATURE_TOLERANCE_S = 300;

const hmac = (secret: string, timestamp: number, body: string | Buffer): Buffer =>
  createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();

/** The header value for `body` sent at `nowS`, signed by every key given (the first one first). */
export function signPayload(keys: readonly SigningKey[], body: string | Buffer, nowS: number): string {
  if (keys.length === 0) throw new Error('no signing key');
  const t = Math.floor(nowS);
  return [`t=${t}`, ...keys.map((k) => `v1=${hmac(k.secret, t, body).toString('hex')}`)].join(',');
}

export type SignatureCheck =
  | { ok: true; keyId: string; timestamp: number }
  | { ok: false; problem: 'missing' | 'malformed' | 'mismatch' | 'stale'; message: string };

/**
 * Checks a received header against the raw body with every key the receiver holds. The signature is checked before
 * the timestamp, so "stale" is said only of a request that was genuinely signed by us, just too long ago.
 */
export function verifySignature(
  header: string | undefined,
  body: string | Buffer,
  keys: readonly SigningKey[],
  options: { nowS: number; toleranceS?: number },
): SignatureCheck {
  if (!header) return { ok: false, problem: 'missing', message: `${SIGNATURE_HEADER} header is missing` };
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const [scheme, value] = part.trim().split('=', 2);
    if (scheme === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    // Other schemes (a future v2) are ignored, as Stripe does: a receiver that knows only v1 keeps working.
    else if (scheme === 'v1' && value && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || signatures.length === 0) {
    return { ok: false, problem: 'malformed', message: `${SIGNATURE_HEADER} must be t=<unix seconds>,v1=<hex>` };
  }
  let keyId: string | undefined;
  for (const key of keys) {
    const expected = hmac(key.secret, timestamp, body);
    // Every pair is compared (no early exit on a miss); the lengths are equal by the pattern above.
    for (const given of signatures) if (timingSafeEqual(expected, given) && keyId === undefined) keyId = key.id;
  }
  if (keyId === undefined) {
    return { ok: false, problem: 'mismatch', message: 'no signature matches a key this service holds' };
  }
  const tolerance = options.toleranceS ?? SIGNATURE_TOLERANCE_S;
  if (Math.abs(options.nowS - timestamp) > tolerance) {
    return {
      ok: false,
      problem: 'stale',
      message: `signature timestamp is outside the ${tolerance / 60} min tolerance (clock skew or a replay)`,
    };
  }
  return { ok: true, keyId, timestamp };
}
