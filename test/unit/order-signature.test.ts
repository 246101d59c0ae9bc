// The signature on our order-service notifications (activities/order-signature.ts) and its keys' configuration:
// genuine, forged, stale, rotated and unsigned requests, checked the way the order service checks them.
import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SIGNATURE_TOLERANCE_S, signPayload, verifySignature } from '../../activities/order-signature';
import { loadConfig } from '../../config';
import { REDACT_PATHS } from '../../observability/logger';
import { problemsOf } from '../support/config-problems';

const OLD = { id: 'k-2025', secret: 'old-order-notify-secret-6f1c9a2be47d83f0' };
const NEW = { id: 'k-2026', secret: 'new-order-notify-secret-a93e07c5d2b4f618' };
const NOW = 1_790_000_000;
const body = JSON.stringify({ orderId: 'o-1', paymentId: 'p-1', status: 'SUCCESS', amount: 2599, currency: 'CNY' });
const at = (nowS: number) => ({ nowS });

describe('signing a notification', () => {
  it('is HMAC-SHA256 over "t.body" in hex, one v1 per key, as the README tells an order service to check', () => {
    const expected = createHmac('sha256', OLD.secret).update(`${NOW}.${body}`).digest('hex');
    expect(signPayload([OLD], body, NOW)).toBe(`t=${NOW},v1=${expected}`);
    expect(signPayload([NEW, OLD], body, NOW + 0.9).split(',')).toEqual([
      `t=${NOW}`,
      `v1=${createHmac('sha256', NEW.secret).update(`${NOW}.${body}`).digest('hex')}`,
      `v1=${expected}`,
    ]);
  });

  it('is accepted when genuine, naming the key that matched', () => {
    expect(verifySignature(signPayload([OLD], body, NOW), body, [OLD], at(NOW + 10))).toEqual({
      ok: true,
      keyId: OLD.id,
      timestamp: NOW,
    });
    // The raw bytes are what is signed: a Buffer of the same bytes verifies alike.
    expect(verifySignature(signPayload([OLD], body, NOW), Buffer.from(body), [OLD], at(NOW)).ok).toBe(true);
  });

  it('is refused when forged: another key, a changed body, a changed timestamp, a signature of another length', () => {
    const genuine = signPayload([OLD], body, NOW);
    const guessed = { id: OLD.id, secret: 'guessed-secret-guessed-secret-00' };
    const checks = [
      verifySignature(signPayload([guessed], body, NOW), body, [OLD], at(NOW)),
      verifySignature(genuine, body.replace('2599', '1'), [OLD], at(NOW)),
      verifySignature(genuine.replace(`t=${NOW}`, `t=${NOW + 1}`), body, [OLD], at(NOW)),
    ];
    expect(checks.map((c) => (c.ok ? 'accepted' : c.problem))).toEqual(['mismatch', 'mismatch', 'mismatch']);
    expect(verifySignature(genuine.slice(0, -2), body, [OLD], at(NOW))).toMatchObject({ problem: 'malformed' });
  });

  it('is refused as stale outside the 5 min tolerance, either way, saying so; accepted at the edge', () => {
    const header = signPayload([OLD], body, NOW);
    expect(SIGNATURE_TOLERANCE_S).toBe(300);
    expect(verifySignature(header, body, [OLD], at(NOW + 300)).ok).toBe(true);
    expect(verifySignature(header, body, [OLD], at(NOW - 300)).ok).toBe(true);
    for (const now of [NOW + 301, NOW - 301]) {
      const check = verifySignature(header, body, [OLD], at(now));
      expect(check).toEqual({ ok: false, problem: 'stale', message: expect.stringMatching(/outside the 5 min/) });
    }
    // A forged request is told it is forged, not stale: staleness is only said of our own signatures.
    const forged = signPayload([{ id: 'x', secret: 'someone-elses-secret-0123456789ab' }], body, NOW - 3600);
    expect(verifySignature(forged, body, [OLD], at(NOW))).toMatchObject({ problem: 'mismatch' });
  });

  it('rotates: both keys sign during a rotation; the old key is accepted while listed, refused once removed', () => {
    const duringRotation = signPayload([NEW, OLD], body, NOW);
    // Either side may be rotated first: a receiver with only the old key, or only the new one, accepts.
    expect(verifySignature(duringRotation, body, [OLD], at(NOW))).toMatchObject({ ok: true, keyId: OLD.id });
    expect(verifySignature(duringRotation, body, [NEW], at(NOW))).toMatchObject({ ok: true, keyId: NEW.id });
    // A sender still on the old key: accepted while the receiver lists it beside the new one, refused once removed.
    const oldOnly = signPayload([OLD], body, NOW);
    expect(verifySignature(oldOnly, body, [NEW, OLD], at(NOW))).toMatchObject({ ok: true, keyId: OLD.id });
    expect(verifySignature(oldOnly, body, [NEW], at(NOW))).toMatchObject({ ok: false, problem: 'mismatch' });
  });

  it('is refused when missing or unreadable', () => {
    expect(verifySignature(undefined, body, [OLD], at(NOW))).toMatchObject({ ok: false, problem: 'missing' });
    expect(verifySignature('', body, [OLD], at(NOW))).toMatchObject({ ok: false, problem: 'missing' });
    for (const header of [`t=${NOW}`, 'v1=' + 'a'.repeat(64), `t=soon,v1=${'a'.repeat(64)}`, 'garbage']) {
      expect(verifySignature(header, body, [OLD], at(NOW))).toMatchObject({ ok: false, problem: 'malformed' });
    }
  });
});

describe('ORDER_NOTIFY_SIGNING_KEYS', () => {
  it('takes one key, or two during a rotation, in order', () => {
    expect(loadConfig({ ORDER_NOTIFY_SIGNING_KEYS: `${NEW.id}:${NEW.secret}` }).orders.signingKeys).toEqual([NEW]);
    expect(
      loadConfig({ ORDER_NOTIFY_SIGNING_KEYS: ` ${NEW.id}:${NEW.secret} , ${OLD.id}:${OLD.secret}` }).orders
        .signingKeys,
    ).toEqual([NEW, OLD]);
    // A development key by default, so the worker and the order service agree out of the box.
    expect(loadConfig({}).orders.signingKeys).toHaveLength(1);
  });

  it('refuses short, guessable, duplicated, malformed or too many keys, naming the key but never its secret', () => {
    const cases: [string, RegExp][] = [
      ['k1:short-secret', /key "k1" must be at least 32 characters/],
      [`k1:${'a'.repeat(40)}`, /key "k1" looks guessable/],
      ['k1:passwordpasswordpasswordpassword', /key "k1" looks guessable/],
      [`k1:${OLD.secret},k1:${NEW.secret}`, /key id "k1" is listed twice/],
      [`k1:${OLD.secret},k2:${OLD.secret}`, /key "k2" has the same secret/],
      [OLD.secret, /entry 1 must be keyId:secret/],
      [`:${OLD.secret}`, /entry 1 must be keyId:secret/],
      [`a:${OLD.secret},b:${NEW.secret},c:${NEW.secret}x`, /at most 2 keys/],
    ];
    for (const [value, expected] of cases) {
      const problems = problemsOf({ ORDER_NOTIFY_SIGNING_KEYS: value });
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^ORDER_NOTIFY_SIGNING_KEYS: ${expected.source}`))]);
      for (const secret of [OLD.secret, NEW.secret, 'short-secret', 'passwordpassword']) {
        expect(problems.join('\n')).not.toContain(secret);
      }
    }
  });

  it('refuses the development key in production, like the other development secrets', () => {
    const prod = {
      NODE_ENV: 'production',
      SANDBOXPAY_SECRET: 'p'.repeat(8) + OLD.secret,
      ADMIN_API_KEY: NEW.secret,
      PAYLOAD_ENCRYPTION: 'off',
    };
    expect(problemsOf(prod)).toEqual([
      'ORDER_NOTIFY_SIGNING_KEYS: required in production (the development key is refused)',
    ]);
    expect(problemsOf({ ...prod, ORDER_NOTIFY_SIGNING_KEYS: `${NEW.id}:${NEW.secret}` })).toEqual([]);
    // under another key id, the development secret is still the development secret
    expect(problemsOf({ ...prod, ORDER_NOTIFY_SIGNING_KEYS: `k1:order-notify-dev-secret-not-for-production` })).toEqual(
      ['ORDER_NOTIFY_SIGNING_KEYS: required in production (the development key is refused)'],
    );
  });

  it('never reaches the logs: the keys in a logged config section and the signature header are redacted', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
    const orders = loadConfig({ ORDER_NOTIFY_SIGNING_KEYS: `${NEW.id}:${NEW.secret}` }).orders;
    log.info(orders, 'orders');
    log.info({ orders }, 'config');
    log.info({ config: { orders } }, 'deeper');
    log.info({ req: { headers: { 'payment-signature': signPayload([NEW], body, NOW) } } }, 'request');
    const text = lines.join('');
    expect(text).not.toContain(NEW.secret);
    expect(text).not.toMatch(/v1=[0-9a-f]{64}/);
    expect(text).toContain(orders.url);
  });
});
