// Operator actions over real HTTP against the whole stack: resolving reviews (refund, accept, close), telling the
// order service again, asking the channel now, each allowed where it applies and refused (409, saying why) where it
// does not, each audited with who and why. Also the status reason and the channel's NOT_FOUND anomaly.
//
// The order service is retried with a 10-minute backoff here, so that an order hearing its result within seconds
// can only be the operator's renotify.
import { randomUUID } from 'node:crypto';
import { metrics } from '../../observability/metrics';
import { signCallback } from '../../sandbox/sandboxpay';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { paymentWorkflowId, renotifyUpdate, REQUERY_NOW_MESSAGE, requerySignal } from '../../workflows/definitions';
import { call } from '../support/openapi';
import { ADMIN_KEY, channelIdOf, SECRET, Stack } from '../support/stack';

describe('operator actions, whole stack', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start({
      env: {
        ORDER_NOTIFY_INITIAL_BACKOFF: '10m',
        ORDER_NOTIFY_MAX_BACKOFF: '10m',
        PAYMENT_EXPIRY: '4s',
        PAYMENT_QUERY_SCHEDULE: '1s,2s',
        LATE_CALLBACK_WINDOW: '2s',
      },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });
  afterEach(() => {
    s.sandbox.setFaults({ callbackDropRate: 0, queryErrorRate: 0 });
    s.orderService.setFaults({ outageForMs: 0 });
  });

  const operator = { 'x-api-key': ADMIN_KEY, 'x-operator': 'alice' };
  const create = (orderId: string, amount = 2599) =>
    call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount, currency: 'CNY', channel: 'sandboxpay' },
      headers: { 'idempotency-key': randomUUID() },
    });
  const get = async (id: string) => (await call(s.apiUrl, 'GET', `/payments/${id}`)).body;
  const until = (id: string, status: string) =>
    s.eventually(`payment ${id} to be ${status}`, async () => {
      const body = await get(id);
      return body.status === status && body;
    });
  const resolve = (id: string, action: string, reason = 'checked with the shop') =>
    call(s.apiUrl, 'POST', `/admin/payments/${id}/resolve`, { body: { action, reason }, headers: operator });
  const renotify = (id: string, reason = 'the order service is fixed') =>
    call(s.apiUrl, 'POST', `/admin/payments/${id}/renotify`, { body: { reason }, headers: operator });
  const requery = (id: string) =>
    call(s.apiUrl, 'POST', `/admin/payments/${id}/requery`, { body: { reason: 'buyer says paid' }, headers: operator });
  const operatorEvents = async (id: string) =>
    (await call(s.apiUrl, 'GET', `/admin/payments/${id}/events`, { headers: operator })).body.events.filter(
      (e: { source: string }) => e.source === 'operator',
    );

  /** A paid payment for an order of another amount: the order refuses it (amount_mismatch), so it waits for review. */
  async function paymentInReview(): Promise<{ paymentId: string; orderId: string; channelPaymentId: string }> {
    const orderId = await s.createOrder(1000);
    const created = await create(orderId, 2599);
    const channelPaymentId = channelIdOf(created.body.payUrl);
    expect(await s.buyer(channelPaymentId, 'pay')).toBe(200);
    await until(created.body.paymentId, 'NEEDS_REVIEW');
    return { paymentId: created.body.paymentId, orderId, channelPaymentId };
  }

  it('resolves a review by refunding: the money goes back, and a second resolve is refused', async () => {
    const { paymentId, channelPaymentId } = await paymentInReview();
    const review = await get(paymentId);
    expect(review.statusReason).toMatch(/order service refused the paid result \(amount_mismatch\)/);

    // The order service refuses a paid result for another amount: accepting is refused, nothing changes.
    const accept = await resolve(paymentId, 'accept');
    expect(accept.status).toBe(409);
    expect(accept.body.error.message).toMatch(/refused the paid result \(amount_mismatch\)/);
    expect((await get(paymentId)).status).toBe('NEEDS_REVIEW');

    const refund = await resolve(paymentId, 'refund', 'order was for 10.00; buyer paid 25.99');
    expect(refund.status).toBe(200);
    expect(refund.body.message).toMatch(/refund of 25.99 CNY started/);
    // While the refund runs the payment is still in review, but no other resolution may race it.
    const racing = await resolve(paymentId, 'close', 'someone else closes it meanwhile');
    expect(racing.status).toBe(409);
    expect(racing.body.error.message).toMatch(/a refund of this payment is running/);
    const refunded = await until(paymentId, 'REFUNDED');
    expect(refunded.statusReason).toMatch(/refund asked by alice: order was for 10.00; buyer paid 25.99/);
    expect(s.sandbox.payments.get(channelPaymentId)?.refunds).toHaveLength(1);

    const again = await resolve(paymentId, 'refund');
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/the payment is REFUNDED: only a payment waiting for review/);

    const audit = await operatorEvents(paymentId);
    expect(audit.map((e: { type: string; outcome: string }) => `${e.type} ${e.outcome}`)).toEqual([
      'operator:resolve:accept refused',
      'operator:resolve:refund done',
      'operator:resolve:close refused',
      'operator:resolve:refund refused',
    ]);
    expect(audit[1].payload).toMatchObject({ actor: 'alice', reason: 'order was for 10.00; buyer paid 25.99' });
    const story = await call(s.apiUrl, 'GET', `/admin/payments/${paymentId}/events`, { headers: operator });
    expect(story.body.transitions.at(-1)).toMatchObject({ status: 'REFUNDED', resolvedBy: 'operator' });
  });

  it('resolves a review by closing it: nothing more is done, and the order keeps what it heard', async () => {
    const { paymentId, orderId } = await paymentInReview();
    const closed = await resolve(paymentId, 'close', 'difference settled with the buyer by phone');
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ paymentId, status: 'REVIEW_CLOSED' });
    const after = await get(paymentId);
    expect(after).toMatchObject({ status: 'REVIEW_CLOSED', resolvedBy: 'operator' });
    expect(after.statusReason).toBe('review closed by alice: difference settled with the buyer by phone');
    expect((await s.order(orderId)).status).toBe('UNPAID');
  });

  it('refuses to refund or accept what the channel never received; the review can be closed', async () => {
    // A success reported (signed) for a payment the buyer never paid, to an order of another amount: a channel's
    // mistake that ends in review. The channel's query says it was never paid.
    const orderId = await s.createOrder(1000);
    const created = await create(orderId, 2599);
    const { paymentId } = created.body;
    const raw = JSON.stringify({
      eventId: `evt_${randomUUID()}`,
      eventType: 'payment.succeeded',
      merchantId: s.config.sandbox.sandboxpay.merchantId,
      merchantOrderId: paymentId,
      channelPaymentId: channelIdOf(created.body.payUrl),
      status: 'SUCCESS',
      amount: 2599,
      currency: 'CNY',
      paidAt: new Date().toISOString(),
    });
    const ts = String(Math.floor(Date.now() / 1000));
    const cb = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw,
      headers: {
        'content-type': 'application/json',
        'x-sandboxpay-timestamp': ts,
        'x-sandboxpay-signature': signCallback(SECRET, ts, raw),
      },
    });
    expect(cb.status).toBe(200);
    await until(paymentId, 'NEEDS_REVIEW');

    const refund = await resolve(paymentId, 'refund');
    expect(refund.status).toBe(409);
    expect(refund.body.error.message).toMatch(/the channel never received this payment \(it answers PENDING/);
    expect((await get(paymentId)).status).toBe('NEEDS_REVIEW');

    const accept = await resolve(paymentId, 'accept');
    expect(accept.status).toBe(409);
    expect(accept.body.error.message).toMatch(/the channel never received this payment/);
    const close = await resolve(paymentId, 'close', 'the channel confirmed it never took the money');
    expect(close.status).toBe(200);
    expect((await get(paymentId)).status).toBe('REVIEW_CLOSED');
  });

  it('accepts a review once the order service takes it; an order paid and kept takes no new payment', async () => {
    const { paymentId, orderId } = await paymentInReview();
    // The shop corrects the order's amount: accepting now tells the order it is paid.
    await s.t.db.withSchema('order_service').table('orders').where({ order_id: orderId }).update({ amount: 2599 });
    const accept = await resolve(paymentId, 'accept', 'shop corrected the order amount');
    expect(accept.status).toBe(200);
    expect(accept.body).toMatchObject({ status: 'ACCEPTED' });
    expect((await s.order(orderId)).status).toBe('PAID');
    expect((await get(paymentId)).statusReason).toBe('accepted as paid by alice: shop corrected the order amount');

    const another = await create(orderId, 1000);
    expect(another.status).toBe(409);
    expect(another.body.error).toMatchObject({ code: 'order_already_paid' });
  });

  it('renotify starts the order notification again now instead of after the backoff; refused before a decision', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const { paymentId } = created.body;
    const early = await renotify(paymentId);
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/not decided yet/);

    s.orderService.setFaults({ outageForMs: 3000 });
    await s.buyer(channelIdOf(created.body.payUrl), 'pay');
    await until(paymentId, 'SUCCESS');
    // The first tries fail in the outage; the next attempt is 10 minutes away.
    await s.eventually('the retrying notification to wait out its backoff', async () => {
      const live = await call(s.apiUrl, 'GET', `/payments/${paymentId}?live=1`);
      const { pendingActivities } = await s.temporal.workflow
        .getHandle(paymentWorkflowId(paymentId))
        .describe()
        .then((d) => d.raw)
        .then((raw) => ({ pendingActivities: raw.pendingActivities ?? [] }));
      return live.body.live?.waitingFor === 'the order service to acknowledge' && pendingActivities.length > 0;
    });
    await new Promise((r) => setTimeout(r, 3000)); // the outage is over; nothing tells the order for 10 minutes
    expect((await s.order(orderId)).status).toBe('UNPAID');

    const now = await renotify(paymentId);
    expect(now.status).toBe(200);
    expect(now.body.message).toMatch(/being told SUCCESS again now/);
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    const paid = await s.eventually('the acknowledgement to be recorded', async () => {
      const body = await get(paymentId);
      return body.orderNotifiedAt && body;
    });
    expect(paid.status).toBe('SUCCESS');

    // After the workflow has ended: the same notice again, answered by the order service's idempotency.
    await s.eventually('the payment workflow to end', async () => {
      const d = await s.temporal.workflow.getHandle(paymentWorkflowId(paymentId)).describe();
      return d.status.name === 'COMPLETED';
    });
    const after = await renotify(paymentId, 'shop support asked');
    expect(after.status).toBe(200);
    expect(after.body.message).toBe('the order service was told SUCCESS again: acknowledged');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
    expect((await operatorEvents(paymentId)).map((e: { outcome: string }) => e.outcome)).toEqual([
      'refused',
      'done',
      'done',
    ]);
  });

  it('the workflow that acts records the action, not the API: asked straight through Temporal, it is in the log once', async () => {
    // No API in between (as if the API had died right after asking): the payment workflow's own record is the audit.
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const { paymentId } = created.body;
    const handle = s.temporal.workflow.getHandle(paymentWorkflowId(paymentId));
    const request = { actor: 'bob', reason: 'asked from the Temporal CLI' };
    const early = handle.executeUpdate(renotifyUpdate, { args: [request], updateId: 'renotify-early' });
    await expect(early).rejects.toThrow(WorkflowUpdateFailedError);
    // A client retrying the same update (same id) gets the same answer and adds no second event.
    await expect(handle.executeUpdate(renotifyUpdate, { args: [request], updateId: 'renotify-early' })).rejects.toThrow(
      WorkflowUpdateFailedError,
    );
    await handle.signal(requerySignal, { operator: { actor: 'bob', reason: 'buyer called' } });
    // The reconciler's requery is no operator action: not in the operator log.
    await handle.signal(requerySignal, { requestedBy: 'reconciler' });
    const audit = await s.eventually('both actions to be recorded', async () => {
      const events = await operatorEvents(paymentId);
      return events.length >= 2 && events;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect((await operatorEvents(paymentId)).length).toBe(2);
    expect(audit.map((e: { type: string; outcome: string }) => `${e.type} ${e.outcome}`)).toEqual([
      'operator:renotify refused',
      'operator:requery done',
    ]);
    expect(audit[0].payload).toMatchObject({
      actor: 'bob',
      reason: 'asked from the Temporal CLI',
      result: expect.stringMatching(/not decided yet/),
    });
    expect(audit[1].payload).toMatchObject({ actor: 'bob', reason: 'buyer called', result: REQUERY_NOW_MESSAGE });
  });

  it('requery while the final query at expiry waits out its retry backoff asks the channel now', async () => {
    // The channel's query API is down: the final query is retried with backoff (1 s, 2 s, 4 s, 8 s, ...).
    s.sandbox.setFaults({ queryErrorRate: 1 });
    const created = await create(await s.createOrder());
    const { paymentId } = created.body;
    const handle = s.temporal.workflow.getHandle(paymentWorkflowId(paymentId));
    const nextTry = await s.eventually(
      'the final query to wait out a backoff of over 10 s',
      async () => {
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        const query = pending.find((a) => a.activityType?.name === 'queryChannelPayment');
        const at = query?.nextAttemptScheduleTime?.seconds;
        const ms = at ? Number(at) * 1000 : 0;
        return ms - Date.now() > 10_000 && ms;
      },
      60_000,
    );
    s.sandbox.setFaults({ queryErrorRate: 0 }); // the channel is back; the operator asks now
    expect((await requery(paymentId)).status).toBe(202);
    await until(paymentId, 'CLOSED');
    expect(Date.now()).toBeLessThan(nextTry); // closed by the operator's query, not by the policy's next try

    // In the history: the waiting attempt cancelled, the query scheduled anew; the ask is used up by that query
    // (no second "operator" query after the close).
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'queryChannelPayment',
    );
    expect(scheduled).toHaveLength(2);
    expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    const log = (await call(s.apiUrl, 'GET', `/admin/payments/${paymentId}/events`, { headers: operator })).body.events;
    expect(log.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['operator:requery', 'query:expiry', 'close:expiry']),
    );
    expect(log.map((e: { type: string }) => e.type)).not.toContain('query:operator');
    // The attempts that got no answer are in the log too, with the channel's error and the attempt.
    const failed = log.filter(
      (e: { type: string; outcome: string }) => e.type === 'query:expiry' && e.outcome === 'error',
    );
    expect(failed.length).toBeGreaterThanOrEqual(4);
    expect(failed[0].payload).toMatchObject({ error: expect.stringMatching(/\S/), attempt: 1 });
  });

  it('requery after the workflow ended finds a late success and sends the money back', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const { paymentId } = created.body;
    const channelPaymentId = channelIdOf(created.body.payUrl);
    const closed = await until(paymentId, 'CLOSED');
    expect(closed.statusReason).toMatch(/^not paid by .*: closed at expiry/);
    await s.eventually('the payment workflow to end', async () => {
      const d = await s.temporal.workflow.getHandle(paymentWorkflowId(paymentId)).describe();
      return d.status.name === 'COMPLETED';
    });
    // The channel settles it anyway, and its notification is lost.
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const payment = s.sandbox.payments.get(channelPaymentId)!;
    s.sandbox.wallet.settle(payment);

    const asked = await requery(paymentId);
    expect(asked.status).toBe(200);
    expect(asked.body.message).toMatch(
      /the channel says SUCCESS .*after the payment was CLOSED: a late success, being refunded/,
    );
    const refunded = await until(paymentId, 'REFUNDED');
    expect(refunded.statusReason).toMatch(/paid after the payment had ended CLOSED/);
    const events = (await call(s.apiUrl, 'GET', `/admin/payments/${paymentId}/events`, { headers: operator })).body
      .events;
    expect(events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['operator:requery', 'query:operator', 'anomaly:late_success']),
    );
  });

  it('a channel that answers NOT_FOUND for a payment it created is an anomaly: result, event log, metric', async () => {
    const created = await create(await s.createOrder());
    const { paymentId } = created.body;
    s.sandbox.payments.delete(channelIdOf(created.body.payUrl)); // the channel loses it
    await until(paymentId, 'CLOSED');
    const live = await s.temporal.workflow.getHandle(paymentWorkflowId(paymentId)).result();
    expect(live.anomalies.map((a: { kind: string }) => a.kind)).toContain('channel_not_found');
    const events = (await call(s.apiUrl, 'GET', `/admin/payments/${paymentId}/events`, { headers: operator })).body
      .events;
    expect(events.filter((e: { type: string }) => e.type === 'anomaly:channel_not_found')).toHaveLength(1);
    const counted = (await metrics.anomalies.get()).values.find((v) => v.labels.kind === 'channel_not_found');
    expect(counted?.value).toBeGreaterThanOrEqual(1);
  });

  it('names the operator and the reason, or refuses the request saying which field', async () => {
    const created = await create(await s.createOrder());
    const { paymentId } = created.body;
    const noOperator = await call(s.apiUrl, 'POST', `/admin/payments/${paymentId}/resolve`, {
      body: { action: 'close', reason: 'x' },
      headers: { 'x-api-key': ADMIN_KEY },
    });
    expect(noOperator.status).toBe(400);
    expect(noOperator.body.error.fields[0].field).toBe('header.X-Operator');
    const badAction = await resolve(paymentId, 'forgive');
    expect(badAction.status).toBe(400);
    expect(badAction.body.error.fields[0].field).toBe('body.action');
    const noReason = await call(s.apiUrl, 'POST', `/admin/payments/${paymentId}/renotify`, {
      body: {},
      headers: operator,
    });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.fields[0].field).toBe('body.reason');
    const notInReview = await resolve(paymentId, 'close');
    expect(notInReview.status).toBe(409);
    expect(notInReview.body.error.message).toMatch(/the payment is PAYING/);
  });
});
