// The simulated wallet keeps its payments across a restart of the sandbox (issue 13): the whole stack, SandboxPay's
// wallet stored in the test database as in `npm start`, and SandboxPay stopped and started again on the same database
// while a payment is open, or paid but not yet notified.
import { randomUUID } from 'node:crypto';
import { call } from '../support/openapi';
import { channelIdOf, SECRET, Stack } from '../support/stack';

describe('SandboxPay across a restart, whole stack', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const create = async () => {
    const orderId = await s.createOrder();
    const res = await call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount: 2599, currency: 'CNY', channel: 'sandboxpay' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(201);
    return { orderId, paymentId: String(res.body.paymentId), channelPaymentId: channelIdOf(String(res.body.payUrl)) };
  };
  /** The merchant's query at SandboxPay, as our adapter makes it. */
  const channelQuery = async (channelPaymentId: string) => {
    const res = await fetch(`${s.sandboxUrl}/v1/payments/${channelPaymentId}`, {
      headers: { authorization: `Bearer ${SECRET}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const paymentOf = async (paymentId: string) =>
    (await call(s.apiUrl, 'GET', `/payments/${paymentId}`)).body as Record<string, unknown>;

  it('an open payment: after the restart its wallet page answers, the buyer pays, the query and the callback say SUCCESS, and the order is paid', async () => {
    const { orderId, paymentId, channelPaymentId } = await create();
    await s.restartSandbox();
    const restartedAt = Date.now();

    const page = await fetch(`${s.sandboxUrl}/pay/${channelPaymentId}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('25.99 CNY');
    expect(html).toContain('data-status="NOTPAY"');
    expect(await channelQuery(channelPaymentId)).toMatchObject({
      status: 200,
      body: { merchantOrderId: paymentId, amount: 2599, currency: 'CNY', status: 'NOTPAY' },
    });
    // The workflow's own scheduled query after the restart finds the payment pending, not gone.
    const query = await s.eventually('a scheduled query after the restart', async () =>
      (await s.repo.listEvents(paymentId)).find(
        (e) => e.source === 'query' && e.outcome !== 'error' && e.received_at.getTime() > restartedAt,
      ),
    );
    expect(query.outcome).toBe('PENDING');

    expect(await s.buyer(channelPaymentId, 'pay')).toBe(200);
    expect((await channelQuery(channelPaymentId)).body.status).toBe('SUCCESS');
    const paid = await s.eventually('the payment to succeed', async () => {
      const p = await paymentOf(paymentId);
      return p.status === 'SUCCESS' && Boolean(p.orderNotifiedAt) && p;
    });
    expect(paid.resolvedBy).toBe('callback');
    expect((await s.order(orderId)).status).toBe('PAID');
    const events = await s.repo.listEvents(paymentId);
    expect(events.filter((e) => e.source === 'query').map((e) => e.outcome)).not.toContain('NOT_FOUND');
    expect(events.filter((e) => e.source === 'callback').map((e) => e.outcome)).toEqual(['accepted']);
  });

  it('a payment paid but not yet notified when SandboxPay stops is notified by the restarted one', async () => {
    const { orderId, paymentId, channelPaymentId } = await create();
    // The notification is held back 1.5 s, and every query fails: only the notification can tell our service.
    s.sandbox.setFaults({
      callbackDelayRate: 1,
      callbackDelayMinMs: 1500,
      callbackDelayMaxMs: 1500,
      queryErrorRate: 1,
    });
    expect(await s.buyer(channelPaymentId, 'pay')).toBe(200);
    const before = s.sandbox;
    await s.restartSandbox({ queryErrorRate: 1 });
    expect(before.payments.get(channelPaymentId)!.deliveries).toEqual([]); // stopped before it could deliver

    const paid = await s.eventually('the payment to succeed', async () => {
      const p = await paymentOf(paymentId);
      return p.status === 'SUCCESS' && Boolean(p.orderNotifiedAt) && p;
    });
    expect(paid.resolvedBy).toBe('callback');
    expect((await s.order(orderId)).status).toBe('PAID');
    await s.eventually('the restarted wallet to record the delivery', async () =>
      s.sandbox.payments.get(channelPaymentId)!.deliveries.some((d) => d.accepted),
    );
    expect(s.sandbox.payments.get(channelPaymentId)!.deliveries).toEqual([
      expect.objectContaining({ eventId: `evt_${channelPaymentId}_1`, attempt: 1, httpStatus: 200, accepted: true }),
    ]);
    expect(before.payments.get(channelPaymentId)!.deliveries).toEqual([]);
    s.sandbox.setFaults({ queryErrorRate: 0 });
  });
});
