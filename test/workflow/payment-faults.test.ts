// The payment workflow when things go wrong: stale and untrustworthy callbacks, an order service that is down, a
// channel that fails and hangs, buyers who cancel, and a success that arrives after the payment was closed.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { cancelSignal, channelCallbackSignal, type PaymentStatusView } from '../../workflows/definitions';
import { createTimeSkippingEnv } from '../support/env';
import { recordHistories } from '../support/histories';
import {
  channelQueries,
  activityCompletionTimes,
  stateWriteTimes,
  MINUTE,
  PaymentHarness,
  SECOND,
  type StartedPayment,
} from '../support/payment-harness';

describe('payment workflow under faults', () => {
  let env: TestWorkflowEnvironment;
  let h: PaymentHarness;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    h = await PaymentHarness.create({
      client: env.client,
      connection: env.nativeConnection,
      now: () => env.currentTimeMs(),
      channelTimeoutMs: 300,
    });
  });
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
  });
  afterEach(async () => {
    h.sandbox.setFaults({ queryErrorRate: 0, queryTimeoutRate: 0, queryTimeoutMs: 30_000 });
    h.orderService.setFaults({ errorRate: 0 });
    await recordHistories(expect.getState().currentTestName, h.takeStarted());
  });

  /** Polls the workflow's status query (real time) until `ok` holds. */
  async function until(p: StartedPayment, ok: (s: PaymentStatusView) => boolean): Promise<PaymentStatusView> {
    for (let i = 0; i < 200; i++) {
      const s = await h.status(p);
      if (ok(s)) return s;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`status never satisfied the condition: ${JSON.stringify(await h.status(p))}`);
  }

  it('7. a FAILED callback after SUCCESS is ignored', async () => {
    h.orderService.setFaults({ errorRate: 1 }); // keeps the workflow busy notifying while the stale callback comes
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay');
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId));
    await until(p, (s) => s.status === 'SUCCESS');
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId, { state: 'FAILED' }));
    h.orderService.setFaults({ errorRate: 0 });

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'callback' });
    expect((await h.status(p)).ignoredCallbacks).toBe(1);
    expect((await h.payment(p.paymentId)).status).toBe('SUCCESS');
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('8a. a callback whose amount disagrees is not trusted: the query decides (paid)', async () => {
    const p = await h.startPayment({ amount: 5000 });
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay');
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId, { amount: 1 }));

    const result = await h.result(p);
    expect(result).toMatchObject({ status: 'SUCCESS', resolvedBy: 'query' });
    expect(result.anomalies).toEqual([expect.objectContaining({ kind: 'callback_mismatch' })]);
    // The verifying query ran at once, not at the 10 s check.
    const [queried] = (await channelQueries(p.handle)).map((q) => q.at);
    const [paying] = await activityCompletionTimes(p.handle, 'createChannelPayment');
    expect(queried! - paying!).toBeLessThan(10 * SECOND);
    const events = await h.repo.listEvents(p.paymentId);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['anomaly:callback_mismatch', 'query:verify']));
    expect((await h.order(p.orderId)).transitions).toHaveLength(1);
  });

  it('8b. a forged-looking success (wrong amount) for an unpaid payment changes nothing', async () => {
    const p = await h.startPayment({ amount: 5000 });
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId, { amount: 50 }));
    const s = await until(p, (v) => v.anomalies.length === 1 && v.waitingFor.includes('callback'));
    expect(s.status).toBe('PAYING');
    await p.handle.signal(cancelSignal, { reason: 'test over' });
    expect(await h.result(p)).toMatchObject({ status: 'CANCELLED' });
    expect((await h.order(p.orderId)).status).toBe('UNPAID');
  });

  it('9. with the order service down for 30 minutes, the order is updated once it is back, and not before', async () => {
    h.orderService.setFaults({ errorRate: 1 });
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay');
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId));
    await until(p, (s) => s.status === 'SUCCESS');
    const [decidedAt] = await stateWriteTimes(p.handle);

    await env.sleep(30 * MINUTE);
    expect((await p.handle.describe()).status.name).toBe('RUNNING');
    const during = await until(p, (s) => s.waitingFor.includes('order service'));
    expect(during.orderNotified).toBe(false);
    expect((await h.order(p.orderId)).status).toBe('UNPAID');
    expect((await h.payment(p.paymentId)).order_notified_at).toBeNull();

    h.orderService.setFaults({ errorRate: 0 });
    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS' });
    const [ackedAt] = await activityCompletionTimes(p.handle, 'notifyOrderService');
    expect(ackedAt! - decidedAt!).toBeGreaterThanOrEqual(30 * MINUTE);
    // Capped backoff: once the service is back, the next attempt comes within the 5-minute cap.
    expect(ackedAt! - decidedAt!).toBeLessThan(36 * MINUTE);
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('10. channel queries that fail or time out are retried, and the schedule goes on until one answers', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay'); // callback lost: only a query can find it

    h.sandbox.setFaults({ queryErrorRate: 1 });
    await env.sleep(45 * SECOND); // the 10 s and 40 s checks hit 500s
    await until(p, (s) => s.queryFailures >= 2);
    h.sandbox.setFaults({ queryErrorRate: 0, queryTimeoutRate: 1, queryTimeoutMs: 2000 });
    await env.sleep(60 * SECOND); // the 1m40 check hangs past our 300 ms client timeout
    const s = await until(p, (v) => v.queryFailures >= 3);
    expect(s.status).toBe('PAYING');
    h.sandbox.setFaults({ queryTimeoutRate: 0 });

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'query' });
    const final = await h.status(p);
    expect(final.queryFailures).toBe(3);
    expect(final.checksDone).toBe(4); // found at the 3m40 check
    // One query per check; each failed check used all three of its attempts before giving up.
    expect((await channelQueries(p.handle)).map((q) => q.attempt)).toEqual([3, 3, 3, 1]);
    expect((await h.order(p.orderId)).transitions).toHaveLength(1);
  });

  it('11a. a buyer who cancels while paying gets CANCELLED, closed at the channel', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await p.handle.signal(cancelSignal, { reason: 'changed my mind' });

    expect(await h.result(p)).toMatchObject({ status: 'CANCELLED', resolvedBy: 'close' });
    expect(h.sandbox.payments.get(channelPaymentId)!.status).toBe('CLOSED');
    const order = await h.order(p.orderId);
    expect(order.status).toBe('UNPAID');
    expect(order.transitions).toEqual([expect.objectContaining({ paymentStatus: 'CANCELLED' })]);
  });

  it('11b. a buyer who cancels after paying keeps the payment: paid wins', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay');
    await p.handle.signal(cancelSignal, { reason: 'too late' });

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'close' });
    expect(h.sandbox.payments.get(channelPaymentId)!.status).toBe('SUCCESS');
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('12a. a success reported by callback after CLOSED is an anomaly, and the money is refunded', async () => {
    const p = await h.startPayment({ expiresInMs: 2 * MINUTE });
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await env.sleep(2 * MINUTE + SECOND);
    await until(p, (s) => s.status === 'CLOSED' && s.orderNotified);
    // The channel settles it anyway, and says so.
    await h.http(h.sandboxUrl, 'POST', `/admin/payments/${channelPaymentId}/settle-late`);
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId));

    expect(await h.result(p)).toMatchObject({ status: 'REFUNDED' });
    const s = await h.status(p);
    expect(s.anomalies).toEqual([
      expect.objectContaining({
        kind: 'late_success',
        detail: expect.stringContaining('after the payment was CLOSED'),
      }),
    ]);
    expect((await h.payment(p.paymentId)).status).toBe('REFUNDED');
    const channel = h.sandbox.payments.get(channelPaymentId)!;
    expect(channel.refunds).toEqual([
      expect.objectContaining({ amount: p.input.amount, status: 'SUCCESS', refundKey: `refund-${p.paymentId}` }),
    ]);
    expect(channel.status).toBe('REFUND');
    const events = (await h.repo.listEvents(p.paymentId)).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['anomaly:late_success', 'refund', 'query:refund']));
    const history = await h.t.db('payment_status_history').where({ payment_id: p.paymentId }).orderBy('id');
    expect(history.map((r) => r.status)).toEqual(['UNPAID', 'PAYING', 'CLOSED', 'REFUNDING', 'REFUNDED']);
    // The order stays unpaid: it was told CLOSED once, and the late money went back.
    const order = await h.order(p.orderId);
    expect(order.status).toBe('UNPAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('12b. a success the channel reports only to a query after CLOSED is found in the late window and refunded', async () => {
    const p = await h.startPayment({ expiresInMs: 2 * MINUTE });
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await env.sleep(2 * MINUTE + SECOND);
    await until(p, (s) => s.status === 'CLOSED' && s.orderNotified);
    await h.http(h.sandboxUrl, 'POST', `/admin/payments/${channelPaymentId}/settle-late`); // its callback is lost

    expect(await h.result(p)).toMatchObject({ status: 'REFUNDED' });
    expect((await h.status(p)).anomalies).toEqual([expect.objectContaining({ kind: 'late_success' })]);
  });

  it('12c. under the review policy, a late success waits for a person as NEEDS_REVIEW', async () => {
    const p = await h.startPayment({ expiresInMs: 2 * MINUTE, policy: { lateSuccessPolicy: 'review' } });
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await env.sleep(2 * MINUTE + SECOND);
    await until(p, (s) => s.status === 'CLOSED' && s.orderNotified);
    await h.http(h.sandboxUrl, 'POST', `/admin/payments/${channelPaymentId}/settle-late`);
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId));

    expect(await h.result(p)).toMatchObject({ status: 'NEEDS_REVIEW', resolvedBy: 'callback' });
    expect(h.sandbox.payments.get(channelPaymentId)!.refunds).toEqual([]);
    expect((await h.payment(p.paymentId)).status).toBe('NEEDS_REVIEW');
  });

  it('13. a payment the order service refuses (the shop cancelled the order meanwhile) is refunded', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.http(h.ordersUrl, 'POST', `/orders/${p.orderId}/cancel`);
    await h.buyer(channelPaymentId, 'pay');
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId));

    const result = await h.result(p);
    expect(result).toMatchObject({ status: 'REFUNDED', resolvedBy: 'callback' });
    expect(result.anomalies).toEqual([
      expect.objectContaining({ kind: 'order_refused', detail: expect.stringContaining('order_cancelled') }),
    ]);
    expect(h.sandbox.payments.get(channelPaymentId)!.status).toBe('REFUND');
    const order = await h.order(p.orderId);
    expect(order.status).toBe('CANCELLED');
    expect(order.transitions).toEqual([expect.objectContaining({ accepted: false, reason: 'order_cancelled' })]);
  });
});
