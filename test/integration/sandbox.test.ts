// The simulated third parties behave like the partners they stand for: idempotent, signed, retrying, faulty on
// purpose and deterministic about it.
import express from 'express';
import pino from 'pino';
import { paymentResultBody, type PaymentResultNotice } from '../../activities/order-notifier';
import { SIGNATURE_HEADER, signPayload } from '../../activities/order-signature';
import { Chance } from '../../sandbox/chance';
import { createOrderService, ensureOrderServiceSchema } from '../../sandbox/order-service';
import { createSandboxPay, signCallback } from '../../sandbox/sandboxpay';
import { createTestDatabase, type TestDatabase } from '../support/env';
import { listen } from '../support/http';

const logger = pino({ level: 'silent' });
const SECRET = 'sandbox-test-secret-0123456789';

async function call(url: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}`, ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const ORDER_KEYS = [{ id: 'k1', secret: 'sandbox-test-order-notify-key-0123456789abcdefXYZ' }];

/** A payment result as our notifier sends it: signed. */
async function postResult(base: string, notice: Omit<PaymentResultNotice, 'status'> & { status: string }) {
  const body = paymentResultBody(notice as PaymentResultNotice);
  const res = await fetch(`${base}/orders/${notice.orderId}/payment-result`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': notice.idempotencyKey,
      [SIGNATURE_HEADER]: signPayload(ORDER_KEYS, body, Date.now() / 1000),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('fault decisions', () => {
  it('are fixed by the seed and the key, and follow the rate', () => {
    const a = new Chance('seed-1');
    const b = new Chance('seed-1');
    const keys = Array.from({ length: 2000 }, (_, i) => `evt_${i}`);
    expect(keys.map((k) => a.happens(0.3, 'drop', k))).toEqual(keys.map((k) => b.happens(0.3, 'drop', k)));
    const share = keys.filter((k) => a.happens(0.3, 'drop', k)).length / keys.length;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
    expect(keys.map((k) => new Chance('seed-2').happens(0.3, 'drop', k))).not.toEqual(
      keys.map((k) => a.happens(0.3, 'drop', k)),
    );
  });
});

describe('SandboxPay', () => {
  it('creates idempotently, signs its callbacks and retries them until acknowledged', async () => {
    const received: { body: string; timestamp: string; signature: string }[] = [];
    let failuresLeft = 2;
    const merchant = express();
    merchant.post('/callbacks/sandboxpay', express.text({ type: '*/*' }), (req, res) => {
      received.push({
        body: req.body as string,
        timestamp: req.get('x-sandboxpay-timestamp')!,
        signature: req.get('x-sandboxpay-signature')!,
      });
      res.status(failuresLeft-- > 0 ? 500 : 200).end();
    });
    const merchantHttp = await listen(merchant);
    const sandbox = createSandboxPay({
      merchantId: 'shop',
      secret: SECRET,
      publicUrl: 'http://wallet',
      seed: 's',
      callbackRetryScale: 0.001,
      logger,
    });
    const http = await listen(sandbox.app);
    try {
      const create = {
        merchantOrderId: 'pay-1',
        amount: 100,
        currency: 'CNY',
        notifyUrl: `${merchantHttp.url}/callbacks/sandboxpay`,
      };
      const first = await call(`${http.url}/v1/payments`, 'POST', create);
      expect(first.status).toBe(201);
      const again = await call(`${http.url}/v1/payments`, 'POST', create);
      expect(again.status).toBe(200);
      expect(again.body.channelPaymentId).toBe(first.body.channelPaymentId);
      expect((await call(`${http.url}/v1/payments`, 'POST', { ...create, amount: 101 })).status).toBe(409);
      expect((await call(`${http.url}/v1/payments`, 'POST', create, { authorization: 'Bearer wrong' })).status).toBe(
        401,
      );

      const id = String(first.body.channelPaymentId);
      expect((await call(`${http.url}/v1/payments/${id}/pay`, 'POST')).body.status).toBe('SUCCESS');
      for (let i = 0; i < 100 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(received).toHaveLength(3); // 500, 500, then 200
      expect(new Set(received.map((r) => JSON.parse(r.body).eventId)).size).toBe(1);
      for (const r of received) expect(r.signature).toBe(signCallback(SECRET, r.timestamp, r.body));
      // The wallet records an attempt once its answer is back, a moment after the merchant has seen it.
      const deliveries = () => sandbox.payments.get(id)!.deliveries;
      for (let i = 0; i < 100 && deliveries().length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(deliveries().map((d) => d.httpStatus)).toEqual([500, 500, 200]);

      // Closing a paid payment leaves it paid; the close answers the state.
      expect((await call(`${http.url}/v1/payments/${id}/close`, 'POST')).body.status).toBe('SUCCESS');
      expect((await call(`${http.url}/v1/payments/${id}/pay`, 'POST')).status).toBe(200);
    } finally {
      sandbox.stop();
      await http.close();
      await merchantHttp.close();
    }
  });

  it('validates fault settings on its admin endpoint', async () => {
    const sandbox = createSandboxPay({
      merchantId: 'shop',
      secret: SECRET,
      publicUrl: 'http://wallet',
      seed: 's',
      logger,
    });
    const http = await listen(sandbox.app);
    try {
      expect((await call(`${http.url}/admin/faults`, 'PUT', { callbackDropRate: 0.3 })).body.callbackDropRate).toBe(
        0.3,
      );
      const bad = await call(`${http.url}/admin/faults`, 'PUT', { callbackDropRate: 3, nonsense: true });
      expect(bad.status).toBe(400);
      expect(sandbox.faults().callbackDropRate).toBe(0.3);
    } finally {
      sandbox.stop();
      await http.close();
    }
  });
});

describe('the reference order service', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    await ensureOrderServiceSchema(t.db);
  });
  afterAll(() => t.drop());

  it('applies a payment result once per idempotency key, even when five arrive at once', async () => {
    const service = createOrderService({ db: t.db, seed: 's', logger, signingKeys: ORDER_KEYS });
    const http = await listen(service.app);
    try {
      await call(`${http.url}/orders`, 'POST', { orderId: 'o-1', amount: 100, currency: 'CNY' });
      const notice = { orderId: 'o-1', paymentId: 'p-1', status: 'SUCCESS', amount: 100, currency: 'CNY' };
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => postResult(http.url, { ...notice, idempotencyKey: 'k-1' })),
      );
      for (const a of answers) expect(a).toEqual({ status: 200, body: { accepted: true, orderStatus: 'PAID' } });
      const order = await call(`${http.url}/orders/o-1`, 'GET');
      expect(order.body.status).toBe('PAID');
      expect(order.body.transitions).toHaveLength(1);

      // A second, different payment for a paid order is refused (a double payment to refund), and recorded.
      const second = await postResult(http.url, { ...notice, paymentId: 'p-2', idempotencyKey: 'k-2' });
      expect(second.body).toEqual({ accepted: false, orderStatus: 'PAID', reason: 'already_paid' });
    } finally {
      await http.close();
    }
  });

  it('fails on purpose during an outage, then recovers', async () => {
    const service = createOrderService({ db: t.db, seed: 's', logger, signingKeys: ORDER_KEYS });
    const http = await listen(service.app);
    try {
      await call(`${http.url}/orders`, 'POST', { orderId: 'o-2', amount: 100, currency: 'CNY' });
      await call(`${http.url}/admin/faults`, 'PUT', { outageForMs: 60_000 });
      const notice = {
        orderId: 'o-2',
        paymentId: 'p-3',
        status: 'CLOSED',
        amount: 100,
        currency: 'CNY',
        idempotencyKey: 'k-3',
      };
      expect((await postResult(http.url, notice)).status).toBe(503);
      await call(`${http.url}/admin/faults`, 'PUT', { outageUntil: null });
      expect((await postResult(http.url, notice)).status).toBe(200);
    } finally {
      await http.close();
    }
  });
});
