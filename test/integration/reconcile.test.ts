// The safety net on the dev server with the whole stack: reconciliation repairs what the per-payment workflows
// could not (a workflow never started or terminated, a notification abandoned with its workflow, a success only
// the channel's statement knows about), flags what it cannot repair, and its schedules are created idempotently.
import { randomUUID } from 'node:crypto';
import { registry } from '../../observability/metrics';
import { paymentWorkflowId } from '../../workflows/definitions';
import type { ReconcileInput, ReconcileResult } from '../../workflows/reconcile';
import { ensureReconcileSchedules, statementScheduleId, sweepScheduleId } from '../../worker/schedules';
import { call } from '../support/openapi';
import { signCallback } from '../../sandbox/sandboxpay';
import { channelIdOf, SECRET, Stack } from '../support/stack';

describe('reconciliation', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start({
      env: {
        PAYMENT_QUERY_SCHEDULE: '1s,2s',
        PAYMENT_EXPIRY: '6s',
        LATE_CALLBACK_WINDOW: '2s',
        RECONCILE_MIN_AGE: '1s',
      },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });
  afterEach(() => {
    s.sandbox.setFaults({ callbackDropRate: 0, queryErrorRate: 0 });
    s.orderService.setFaults({ errorRate: 0 });
  });

  const run = (input: ReconcileInput) =>
    s.workerTemporal.workflow.execute<(i: ReconcileInput) => Promise<ReconcileResult>>('reconcileWorkflow', {
      taskQueue: s.config.temporal.taskQueue,
      workflowId: `reconcile-test-${randomUUID()}`,
      args: [input],
    });
  const sweep = () => run({ task: 'sweep', minAgeMs: 1000 });
  const statement = () => run({ task: 'statement', channels: ['sandboxpay'], lookbackMs: 3_600_000 });
  const create = async (orderId: string) =>
    (
      await call(s.apiUrl, 'POST', '/payments', {
        body: { orderId, amount: 1500, currency: 'USD', channel: 'sandboxpay' },
        headers: { 'idempotency-key': randomUUID() },
      })
    ).body as { paymentId: string; payUrl: string };
  const status = async (id: string) => (await s.repo.get(id))!.status;
  /** An unpaid payment's workflow ends on its own: expiry (6 s) closes it, then the late window (2 s) passes. */
  const workflowEnded = (paymentId: string) =>
    s.eventually(
      'the workflow to end',
      async () =>
        (await s.workerTemporal.workflow.getHandle(paymentWorkflowId(paymentId)).describe()).status.name ===
        'COMPLETED',
      30_000,
    );

  it('restarts a payment whose workflow was never started (the API died after its insert)', async () => {
    const orderId = await s.createOrder(1500, 'USD');
    const paymentId = randomUUID();
    await s.repo.insert({
      id: paymentId,
      orderId,
      amount: 1500,
      currency: 'USD',
      channel: 'sandboxpay',
      idempotencyKey: paymentId,
      requestFingerprint: 'crashed-api',
      expiresAt: new Date(Date.now() + 60_000),
    });
    await s.t
      .db('payments')
      .where({ id: paymentId })
      .update({ created_at: new Date(Date.now() - 5000) });

    const result = await sweep();
    expect(result.sweep!.orphans.restarted).toContain(paymentId);
    // The restarted workflow creates the payment at the channel; the buyer can pay.
    const channelPaymentId = await s.eventually(
      'the channel payment',
      async () => (await s.repo.get(paymentId))!.channel_payment_id ?? undefined,
    );
    await s.buyer(channelPaymentId, 'pay');
    await s.eventually('the payment to succeed', async () => (await status(paymentId)) === 'SUCCESS');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.repo.listEvents(paymentId)).map((e) => e.type)).toContain('reconcile:restart');
    expect((await sweep()).sweep!.orphans.restarted).not.toContain(paymentId); // idempotent: nothing to do now
  });

  it('restarts a payment whose workflow an operator terminated, and the payment still ends right', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    await s.workerTemporal.workflow.getHandle(paymentWorkflowId(created.paymentId)).terminate('operator mistake');
    await s.buyer(channelIdOf(created.payUrl), 'pay'); // the callback is lost, and no workflow would query
    await s.t
      .db('payments')
      .where({ id: created.paymentId })
      .update({ created_at: new Date(Date.now() - 5000) });

    expect((await sweep()).sweep!.orphans.restarted).toContain(created.paymentId);
    await s.eventually('the payment to succeed', async () => (await status(created.paymentId)) === 'SUCCESS');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
  });

  it('nudges a payment still running past its expiry to query now, and records the nudge as a repair', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1, queryErrorRate: 1 });
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    await s.buyer(channelIdOf(created.payUrl), 'pay'); // callback lost, and the channel cannot be queried
    await s.t
      .db('payments')
      .where({ id: created.paymentId })
      .update({ created_at: new Date(Date.now() - 60_000), expires_at: new Date(Date.now() - 30_000) });

    expect((await sweep()).sweep!.orphans.nudged).toContain(created.paymentId);
    expect(await status(created.paymentId)).toBe('PAYING');
    const nudge = (await s.repo.listEvents(created.paymentId)).find((e) => e.type === 'reconcile:nudge');
    expect(nudge).toMatchObject({ source: 'system', outcome: 'nudged' });

    s.sandbox.setFaults({ queryErrorRate: 0 });
    await s.eventually('the payment to succeed', async () => (await status(created.paymentId)) === 'SUCCESS');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
  });

  it('notifies the order service for a final payment whose workflow died before it was acknowledged', async () => {
    s.orderService.setFaults({ errorRate: 1 });
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    await s.buyer(channelIdOf(created.payUrl), 'pay');
    await s.eventually('the payment to succeed', async () => (await status(created.paymentId)) === 'SUCCESS');
    await s.workerTemporal.workflow.getHandle(paymentWorkflowId(created.paymentId)).terminate('operator mistake');
    s.orderService.setFaults({ errorRate: 0 });
    await s.t
      .db('payments')
      .where({ id: created.paymentId })
      .update({ finalized_at: new Date(Date.now() - 5000) });

    const result = await sweep();
    expect(result.sweep!.unacknowledged.notified).toContain(created.paymentId);
    expect((await s.order(orderId)).status).toBe('PAID');
    expect((await s.repo.get(created.paymentId))!.order_notified_at).not.toBeNull();
    expect((await sweep()).sweep!.unacknowledged.notified).not.toContain(created.paymentId);
    expect((await s.order(orderId)).transitions).toHaveLength(1);
  });

  it("finds a success only the channel's statement knows, after the workflow ended, and refunds it", async () => {
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    const channelPaymentId = channelIdOf(created.payUrl);
    await workflowEnded(created.paymentId);
    expect(await status(created.paymentId)).toBe('CLOSED');
    s.sandbox.setFaults({ callbackDropRate: 1 });
    await fetch(`${s.sandboxUrl}/admin/payments/${channelPaymentId}/settle-late`, { method: 'POST' });

    const result = await statement();
    expect(result.statements![0]!.lateSuccesses).toEqual([created.paymentId]);
    await s.eventually('the refund to complete', async () => (await status(created.paymentId)) === 'REFUNDED', 30_000);
    expect(s.sandbox.payments.get(channelPaymentId)!.status).toBe('REFUND');
    expect((await s.order(orderId)).status).toBe('UNPAID');
    expect((await statement()).statements![0]!.lateSuccesses).not.toContain(created.paymentId);
  });

  it('refunds a success whose callback arrives after the workflow ended, before acknowledging the callback', async () => {
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    const channelPaymentId = channelIdOf(created.payUrl);
    await workflowEnded(created.paymentId);
    await fetch(`${s.sandboxUrl}/admin/payments/${channelPaymentId}/settle-late`, { method: 'POST' }); // its callback comes

    const channelPayment = s.sandbox.payments.get(channelPaymentId)!;
    await s.eventually('the late callback to be acknowledged', async () =>
      channelPayment.deliveries.some((d) => d.httpStatus === 200),
    );
    const event = (await s.repo.listEvents(created.paymentId)).find((e) => e.source === 'callback');
    expect(event?.outcome).toBe('late');
    await s.eventually('the refund to complete', async () => (await status(created.paymentId)) === 'REFUNDED', 30_000);
    expect(channelPayment.status).toBe('REFUND');
    // And in the metrics (the API and the worker of this test share one registry).
    const text = await registry.metrics();
    expect(text).toMatch(/^payments_anomalies_total\{kind="late_success"\} [1-9]/m);
    expect(text).toMatch(/^payments_callbacks_total\{channel="sandboxpay",outcome="late"\} [1-9]/m);
    expect(text).toMatch(/^payments_refunds_total\{outcome="accepted"\} [1-9]/m);
    expect(text).toMatch(
      /^payments_finished_total\{channel="sandboxpay",status="REFUNDED",resolved_by="[a-z]+"\} [1-9]/m,
    );
  });

  it('a late success that does not match the payment (another amount) is recorded for review, never refunded', async () => {
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    const channelPaymentId = channelIdOf(created.payUrl);
    await workflowEnded(created.paymentId);
    const body = JSON.stringify({
      eventId: `evt_${randomUUID()}`,
      eventType: 'payment.succeeded',
      merchantId: s.config.sandbox.sandboxpay.merchantId,
      merchantOrderId: created.paymentId,
      channelPaymentId,
      status: 'SUCCESS',
      amount: 1, // genuinely signed, but not what this payment asked for
      currency: 'USD',
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const answer = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw: body,
      headers: {
        'content-type': 'application/json',
        'x-sandboxpay-timestamp': timestamp,
        'x-sandboxpay-signature': signCallback(SECRET, timestamp, body),
      },
    });
    expect([answer.status, answer.body.outcome]).toEqual([200, 'mismatch']);
    expect(await status(created.paymentId)).toBe('CLOSED');
    const events = await s.repo.listEvents(created.paymentId);
    expect(events.map((e) => e.type)).toContain('anomaly:callback_mismatch');
    expect(events.map((e) => e.type)).not.toContain('anomaly:late_success');
  });

  it('flags a payment paid here that the channel has no record of', async () => {
    const orderId = await s.createOrder(1500, 'USD');
    const created = await create(orderId);
    await s.workerTemporal.workflow.getHandle(paymentWorkflowId(created.paymentId)).terminate('test: forge our side');
    await s.t
      .db('payments')
      .where({ id: created.paymentId })
      .update({ status: 'SUCCESS', paid_at: new Date(Date.now() - 120_000), finalized_at: new Date() });

    const result = await statement();
    expect(result.statements![0]!.notAtChannel).toContain(created.paymentId);
    const flagged = (await s.repo.listEvents(created.paymentId)).filter((e) => e.type === 'reconcile:not-at-channel');
    expect(flagged).toHaveLength(1);
    expect(await status(created.paymentId)).toBe('SUCCESS'); // flagged for a person, not changed
  });

  it('creates its schedules once, and updates them when the interval changes', async () => {
    const config = { temporal: s.config.temporal, reconcile: { ...s.config.reconcile, intervalMs: 300_000 } };
    const SWEEP_SCHEDULE_ID = sweepScheduleId(s.config.temporal.taskQueue);
    const STATEMENT_SCHEDULE_ID = statementScheduleId(s.config.temporal.taskQueue);
    expect(await ensureReconcileSchedules(s.workerTemporal, config, ['sandboxpay'])).toEqual([
      `${SWEEP_SCHEDULE_ID} created`,
      `${STATEMENT_SCHEDULE_ID} created`,
    ]);
    const changed = { ...config, reconcile: { ...config.reconcile, intervalMs: 120_000 } };
    expect(await ensureReconcileSchedules(s.workerTemporal, changed, ['sandboxpay'])).toEqual([
      `${SWEEP_SCHEDULE_ID} updated`,
      `${STATEMENT_SCHEDULE_ID} updated`,
    ]);
    const described = await s.workerTemporal.schedule.getHandle(SWEEP_SCHEDULE_ID).describe();
    expect(described.spec.intervals?.[0]?.every).toBe(120_000);
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileWorkflow' });
    for (const id of [SWEEP_SCHEDULE_ID, STATEMENT_SCHEDULE_ID]) await s.workerTemporal.schedule.getHandle(id).delete();
  });
});
