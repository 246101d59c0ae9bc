// What an operator types into the Temporal Web UI's list filter (the README's operator section) finds the right
// payments on the dev server.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { paymentWorkflowId } from '../../workflows/definitions';
import { call } from '../support/openapi';
import { channelIdOf, Stack } from '../support/stack';

describe('operator list queries in the Web UI', () => {
  let s: Stack;
  let temporal: Client;
  beforeAll(async () => {
    s = await Stack.start({
      env: {
        PAYMENT_QUERY_SCHEDULE: '1s,2s',
        PAYMENT_EXPIRY: '5s',
        LATE_CALLBACK_WINDOW: '2s',
        CHANNEL_TIMEOUT: '500ms',
      },
    });
    temporal = s.workerTemporal;
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
    return {
      orderId,
      paymentId: res.body.paymentId as string,
      channelPaymentId: channelIdOf(res.body.payUrl as string),
    };
  };
  const ids = async (query: string) => {
    const found: string[] = [];
    for await (const wf of temporal.workflow.list({ query })) found.push(wf.workflowId);
    return found;
  };
  const finds = (query: string, workflowId: string, present = true) =>
    s.eventually(
      `"${query}" ${present ? 'to find' : 'not to find'} ${workflowId}`,
      async () => (await ids(query)).includes(workflowId) === present,
    );
  const statusOf = async (id: string) => (await s.repo.get(id))!.status;

  it('finds payments by order, by resolution path, stuck past expiry, and late successes', async () => {
    // Resolved by the query because the callback was lost.
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const byQuery = await create();
    await s.buyer(byQuery.channelPaymentId, 'pay');
    await s.eventually('paid by query', async () => (await statusOf(byQuery.paymentId)) === 'SUCCESS');
    s.sandbox.setFaults({ callbackDropRate: 0 });
    // Resolved by the callback.
    const byCallback = await create();
    await s.buyer(byCallback.channelPaymentId, 'pay');
    await s.eventually('paid by callback', async () => (await statusOf(byCallback.paymentId)) === 'SUCCESS');
    // Closed, then settled late by the channel: refunded.
    const late = await create();
    await s.eventually('closed', async () => (await statusOf(late.paymentId)) === 'CLOSED', 20_000);
    await fetch(`${s.sandboxUrl}/admin/payments/${late.channelPaymentId}/settle-late`, { method: 'POST' });
    await s.eventually('refunded', async () => (await statusOf(late.paymentId)) === 'REFUNDED', 30_000);
    // Stuck: the channel stops answering queries, so expiry cannot be settled.
    const stuck = await create();
    s.sandbox.setFaults({ queryErrorRate: 1 });

    await finds(`OrderId = '${byQuery.orderId}'`, paymentWorkflowId(byQuery.paymentId));
    await finds(`ResolvedBy = 'query' AND PaymentChannel = 'sandboxpay'`, paymentWorkflowId(byQuery.paymentId));
    await finds(
      `ResolvedBy = 'query' AND PaymentChannel = 'sandboxpay'`,
      paymentWorkflowId(byCallback.paymentId),
      false,
    );
    await finds(`PaymentStatus IN ('REFUNDING', 'REFUNDED', 'NEEDS_REVIEW')`, paymentWorkflowId(late.paymentId));
    await finds(`PaymentStatus IN ('REFUNDING', 'REFUNDED', 'NEEDS_REVIEW')`, `refund-${late.paymentId}`);
    await new Promise((r) => setTimeout(r, 7000)); // past its 5 s expiry, still PAYING
    const past = new Date(Date.now() - 5000).toISOString();
    await finds(
      `PaymentStatus = 'PAYING' AND ExecutionStatus = 'Running' AND StartTime < '${past}'`,
      paymentWorkflowId(stuck.paymentId),
    );
    await finds(
      `PaymentStatus = 'PAYING' AND NextCheckAt < '${new Date().toISOString()}'`,
      paymentWorkflowId(stuck.paymentId),
    );
    s.sandbox.setFaults({ queryErrorRate: 0 });

    // The workflow's own summary reads well at the top of its page.
    const description = await temporal.workflow.getHandle(paymentWorkflowId(byQuery.paymentId)).describe();
    expect(await description.staticSummary()).toBe(`Payment 25.99 CNY for order ${byQuery.orderId} via sandboxpay`);
    expect(await description.staticDetails()).toContain(byQuery.paymentId);
    await s.eventually(
      'the stuck one to close once the channel answers',
      async () => (await statusOf(stuck.paymentId)) === 'CLOSED',
      60_000,
    );
  });
});
