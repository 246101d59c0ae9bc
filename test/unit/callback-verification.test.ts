import pino from 'pino';
import { SandboxPayChannel } from '../../channels/sandboxpay';
import { signCallback } from '../../sandbox/sandboxpay';

const SECRET = 'unit-secret-0123456789abcdef';
const channel = new SandboxPayChannel(
  { url: 'http://unused', merchantId: 'shop', secret: SECRET },
  pino({ level: 'silent' }),
);
const NOW = Date.parse('2026-11-25T12:00:00Z');
const body = JSON.stringify({
  eventId: 'evt_1',
  eventType: 'payment.succeeded',
  merchantId: 'shop',
  merchantOrderId: 'pay-1',
  channelPaymentId: 'sp_1',
  status: 'SUCCESS',
  amount: 100,
  currency: 'CNY',
  paidAt: '2026-11-25T11:59:59Z',
});

function verify(raw: string, headers: Record<string, string>, now = NOW) {
  return channel.verifyCallback(Buffer.from(raw), (name) => headers[name], now);
}

function signed(raw: string, timestamp = String(NOW / 1000), secret = SECRET) {
  return { 'x-sandboxpay-timestamp': timestamp, 'x-sandboxpay-signature': signCallback(secret, timestamp, raw) };
}

describe('SandboxPay callback verification', () => {
  it('accepts a callback the channel signed, and maps its status', async () => {
    const result = await verify(body, signed(body));
    expect(result).toMatchObject({
      ok: true,
      callback: {
        eventId: 'evt_1',
        paymentId: 'pay-1',
        channelPaymentId: 'sp_1',
        state: 'SUCCESS',
        amount: 100,
        currency: 'CNY',
      },
    });
  });

  it('rejects a tampered body', async () => {
    const headers = signed(body);
    expect(await verify(body.replace('"amount":100', '"amount":1'), headers)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects a signature made with another secret', async () => {
    expect(await verify(body, signed(body, String(NOW / 1000), 'another-secret-0123456789'))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects a timestamp outside the 5-minute tolerance, either way', async () => {
    expect(await verify(body, signed(body, String(NOW / 1000 - 301)))).toEqual({
      ok: false,
      reason: 'stale_timestamp',
      detail: '301 s behind our clock; at most 300 s allowed',
    });
    expect(await verify(body, signed(body, String(NOW / 1000 + 301)))).toEqual({
      ok: false,
      reason: 'stale_timestamp',
      detail: '301 s ahead of our clock; at most 300 s allowed',
    });
    expect((await verify(body, signed(body, String(NOW / 1000 - 299)))).ok).toBe(true);
  });

  it('rejects a replayed signature under a new timestamp', async () => {
    const old = signed(body, String(NOW / 1000 - 60));
    expect(await verify(body, { ...old, 'x-sandboxpay-timestamp': String(NOW / 1000) })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('rejects missing or malformed signature headers', async () => {
    expect(await verify(body, {})).toEqual({ ok: false, reason: 'missing_signature' });
    expect(await verify(body, { 'x-sandboxpay-timestamp': 'soon', 'x-sandboxpay-signature': 'v1=00' })).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
    expect(await verify(body, { ...signed(body), 'x-sandboxpay-signature': 'v1=short' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('checks the signature before parsing: a signed non-JSON body is malformed, an unsigned one is unauthenticated', async () => {
    expect(await verify('not json', signed('not json'))).toEqual({ ok: false, reason: 'malformed_body' });
    expect(await verify('not json', {})).toEqual({ ok: false, reason: 'missing_signature' });
  });

  it('finds a signed callback with a NUL, another control character or a lone surrogate in a field unreadable', async () => {
    for (const eventId of ['evt_\u0000', 'evt_\n', 'evt_\u009b', 'evt_\ud800']) {
      const odd = body.replace('"eventId":"evt_1"', `"eventId":${JSON.stringify(eventId)}`);
      expect(await verify(odd, signed(odd))).toEqual({ ok: false, reason: 'malformed_body' });
    }
  });

  it('rejects a correctly signed callback for another merchant', async () => {
    const other = body.replace('"merchantId":"shop"', '"merchantId":"elsewhere"');
    expect(await verify(other, signed(other))).toEqual({ ok: false, reason: 'wrong_merchant' });
  });

  it('treats an unknown channel status as pending', async () => {
    const odd = body.replace('"status":"SUCCESS"', '"status":"MYSTERY"');
    expect(await verify(odd, signed(odd))).toMatchObject({
      ok: true,
      callback: { state: 'PENDING', channelStatus: 'MYSTERY' },
    });
  });
});
