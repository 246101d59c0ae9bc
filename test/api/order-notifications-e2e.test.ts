// The order service believes only us: a real payment through the whole stack reaches it signed (here in the middle
// of a key rotation: the worker signs with the new and the old key, the order service still holds only the old
// one), while unsigned, forged, stale and redirected payment results are refused with 401 and change nothing.
import { randomUUID } from 'node:crypto';
import { paymentResultBody } from '../../activities/order-notifier';
import { SIGNATURE_HEADER, type SigningKey, signPayload } from '../../activities/order-signature';
import { call } from '../support/openapi';
import { channelIdOf, Stack } from '../support/stack';

const OLD: SigningKey = { id: 'k-old', secret: 'e2e-old-order-notify-secret-5b7d0e2a94c1f836' };
const NEW: SigningKey = { id: 'k-new', secret: 'e2e-new-order-notify-secret-c4a9183f6e0b27d5' };
const env = (...keys: SigningKey[]) => keys.map((k) => `${k.id}:${k.secret}`).join(',');

describe('order-service notifications, signed, whole stack', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start({ env: { ORDER_NOTIFY_SIGNING_KEYS: env(NEW, OLD) }, orderServiceKeys: env(OLD) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const signatures = async () =>
    (await (await fetch(`${s.ordersUrl}/admin/signatures`)).json()) as {
      accepted: Record<string, number>;
      refused: Record<string, number>;
    };

  /** A payment result as our notifier would send it, signed by `keys` at `nowS`, or unsigned. */
  async function postResult(
    orderId: string,
    overrides: { keys?: SigningKey[]; nowS?: number; pathOrderId?: string; idempotencyKey?: string } = {},
  ) {
    const idempotencyKey = overrides.idempotencyKey ?? `forged-${randomUUID()}`;
    const body = paymentResultBody({
      orderId,
      paymentId: `p-${randomUUID()}`,
      status: 'SUCCESS',
      amount: 2599,
      currency: 'CNY',
      idempotencyKey,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': idempotencyKey };
    if (overrides.keys)
      headers[SIGNATURE_HEADER] = signPayload(overrides.keys, body, overrides.nowS ?? Date.now() / 1000);
    const res = await fetch(`${s.ordersUrl}/orders/${overrides.pathOrderId ?? orderId}/payment-result`, {
      method: 'POST',
      headers,
      body,
    });
    return { status: res.status, body: (await res.json()) as { error?: string; message?: string } };
  }

  it('a payment paid in the wallet reaches the order service signed, mid-rotation, and turns the order paid', async () => {
    const before = await signatures();
    const orderId = await s.createOrder();
    const created = await call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount: 2599, currency: 'CNY', channel: 'sandboxpay' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(created.status).toBe(201);
    expect(await s.buyer(channelIdOf(created.body.payUrl as string), 'pay')).toBe(200);
    const order = await s.eventually('the order to turn PAID', async () => {
      const o = await s.order(orderId);
      return o.status === 'PAID' && o;
    });
    expect(order.transitions).toHaveLength(1);
    // It was taken on the old key, the one the order service holds; nothing was refused on the way.
    const after = await signatures();
    expect((after.accepted[OLD.id] ?? 0) - (before.accepted[OLD.id] ?? 0)).toBeGreaterThanOrEqual(1);
    expect(after.accepted[NEW.id]).toBeUndefined();
    expect(after.refused).toEqual(before.refused);
  });

  it('unsigned, forged, stale and redirected payment results are refused with 401 and change nothing', async () => {
    const orderId = await s.createOrder();
    const other = await s.createOrder();
    const refusals = [
      await postResult(orderId),
      await postResult(orderId, { keys: [{ id: OLD.id, secret: 'an-attackers-guess-0123456789abcdef' }] }),
      // The new key is not the order service's yet: only the old one is.
      await postResult(orderId, { keys: [NEW] }),
      await postResult(orderId, { keys: [OLD], nowS: Date.now() / 1000 - 600 }),
      // A genuine result for another order, pointed at this one.
      await postResult(other, { keys: [OLD], pathOrderId: orderId }),
    ];
    expect(refusals.map((r) => [r.status, r.body.error])).toEqual([
      [401, 'signature_missing'],
      [401, 'signature_mismatch'],
      [401, 'signature_mismatch'],
      [401, 'signature_stale'],
      [401, 'signature_mismatch'],
    ]);
    expect(refusals[3]!.body.message).toMatch(/outside the 5 min tolerance/);
    for (const id of [orderId, other]) {
      const order = await s.order(id);
      expect({ id, status: order.status, transitions: order.transitions }).toEqual({
        id,
        status: 'UNPAID',
        transitions: [],
      });
    }
    // The control: the same result, signed with the key the order service holds, is taken.
    const genuine = await postResult(orderId, { keys: [OLD] });
    expect(genuine).toEqual({ status: 200, body: { accepted: true, orderStatus: 'PAID' } });
    expect((await s.order(orderId)).transitions).toHaveLength(1);
  });
});
