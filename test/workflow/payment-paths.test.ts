// The payment workflow's main paths on the time-skipping server: real activities, real PostgreSQL, SandboxPay and
// the order service over HTTP. Times are virtual, read from the workflow history.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { channelCallbackSignal } from '../../workflows/definitions';
import { recordHistories } from '../support/histories';
import { checkTimesUntil } from '../../workflows/schedule';
import { createTimeSkippingEnv } from '../support/env';
import {
  activityCompletionTimes,
  activityScheduleTimes,
  channelQueries,
  stateWriteTimes,
  DEFAULT_POLICY,
  MINUTE,
  PaymentHarness,
  SECOND,
  type StartedPayment,
  workflowStartTime,
} from '../support/payment-harness';

/** Offsets (ms) of the scheduled channel queries from the moment the payment started waiting (PAYING). */
async function queryOffsets(p: StartedPayment): Promise<number[]> {
  const [payingAt] = await activityCompletionTimes(p.handle, 'createChannelPayment');
  return (await channelQueries(p.handle)).map((q) => q.at - payingAt!);
}

/** The expected offsets, each within a second (the workflow task that schedules the query takes real ms). */
function expectOffsets(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(Math.abs(a - expected[i]!)).toBeLessThan(SECOND));
}

async function decidedAfter(p: StartedPayment): Promise<number> {
  const [decided] = await stateWriteTimes(p.handle);
  return decided! - (await workflowStartTime(p.handle));
}

describe('payment workflow: callback, query, expiry', () => {
  let env: TestWorkflowEnvironment;
  let h: PaymentHarness;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
    h = await PaymentHarness.create({
      client: env.client,
      connection: env.nativeConnection,
      now: () => env.currentTimeMs(),
    });
  });
  afterAll(async () => {
    await h?.close();
    await env?.teardown();
  });
  afterEach(async () => {
    h.sandbox.setFaults({ closeRacePayRate: 0 });
    await recordHistories(expect.getState().currentTestName, h.takeStarted());
  });

  it('1. when the callback arrives, the payment succeeds without a single query', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    expect((await h.payment(p.paymentId)).status).toBe('PAYING');
    expect(await h.buyer(channelPaymentId, 'pay')).toBe('SUCCESS');
    await p.handle.signal(channelCallbackSignal, h.callback(p, channelPaymentId));

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'callback', anomalies: [] });
    expect(await channelQueries(p.handle)).toEqual([]);
    expect(await decidedAfter(p)).toBeLessThan(10 * SECOND);
    const row = await h.payment(p.paymentId);
    expect(row).toMatchObject({ status: 'SUCCESS', resolved_by: 'callback', channel_payment_id: channelPaymentId });
    expect(row.order_notified_at).not.toBeNull();
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('2. when the callback is lost, the first scheduled query (10 s) marks the order paid', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay'); // the sandbox drops every callback in these tests

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'query' });
    expectOffsets(await queryOffsets(p), [10 * SECOND]);
    const decided = await decidedAfter(p);
    expect(decided).toBeGreaterThanOrEqual(10 * SECOND);
    expect(decided).toBeLessThan(12 * SECOND);
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('3. while the payment stays pending, queries happen exactly at the schedule offsets', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await env.sleep(5 * MINUTE); // the buyer takes five minutes in the wallet
    await h.buyer(channelPaymentId, 'pay');

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'query' });
    // 10 s, 40 s, 1m40, 3m40 found it pending; the 8m40 check (the first after the buyer paid) finds it paid.
    expectOffsets(await queryOffsets(p), checkTimesUntil(0, DEFAULT_POLICY.querySchedule, 9 * MINUTE));
    expect((await h.status(p)).checksDone).toBe(5);
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('4. when the buyer never pays, the final query and the close at expiry make it CLOSED and the order is told', async () => {
    const p = await h.startPayment({ expiresInMs: 30 * MINUTE });
    await h.channelPaymentIdOf(p);

    const result = await h.result(p);
    expect(result).toMatchObject({ status: 'CLOSED', resolvedBy: 'close' });
    const offsets = await queryOffsets(p);
    // Six scheduled checks, the final query at expiry (30 min), then the late window's two looks (10 s after
    // the close, and at its end, 25 h later) before the workflow ends.
    expectOffsets(offsets.slice(0, 7), [...checkTimesUntil(0, DEFAULT_POLICY.querySchedule, 30 * MINUTE), 30 * MINUTE]);
    expect(offsets).toHaveLength(9);
    expect(offsets[8]! - offsets[6]!).toBeGreaterThanOrEqual(DEFAULT_POLICY.lateWindowMs);
    const [closedAt] = await activityScheduleTimes(p.handle, 'closeChannelPayment');
    expect(closedAt! - (await workflowStartTime(p.handle))).toBeGreaterThanOrEqual(30 * MINUTE - SECOND);
    expect(h.sandbox.payments.get((await h.payment(p.paymentId)).channel_payment_id!)!.status).toBe('CLOSED');
    const order = await h.order(p.orderId);
    expect(order.status).toBe('UNPAID');
    expect(order.transitions).toEqual([expect.objectContaining({ paymentStatus: 'CLOSED', accepted: true })]);
  });

  it('5. when the close at expiry loses the race to the buyer paying, the channel wins: SUCCESS', async () => {
    h.sandbox.setFaults({ closeRacePayRate: 1 });
    const p = await h.startPayment({ expiresInMs: 5 * MINUTE });
    await h.channelPaymentIdOf(p);

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'close' });
    expect(await decidedAfter(p)).toBeGreaterThanOrEqual(5 * MINUTE - SECOND);
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });

  it('6. five duplicate callbacks make one transition', async () => {
    const p = await h.startPayment();
    const channelPaymentId = await h.channelPaymentIdOf(p);
    await h.buyer(channelPaymentId, 'pay');
    const callback = h.callback(p, channelPaymentId);
    await Promise.all(Array.from({ length: 5 }, () => p.handle.signal(channelCallbackSignal, callback)));

    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'callback' });
    expect((await h.status(p)).duplicateCallbacks).toBe(4);
    expect(await stateWriteTimes(p.handle)).toHaveLength(1);
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });
});
