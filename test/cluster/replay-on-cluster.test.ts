// The same workflow code on either engine: payments run on the real cluster (test/support/cluster-global-setup.ts)
// down each of the main paths (paid by callback; callback lost, paid found by a query; declined; cancelled by the
// buyer), their histories read back from the cluster's PostgreSQL persistence and replayed against the workflow
// bundle the suite replays the recorded dev-server histories with (test/workflow/replay.test.ts, also part of this
// run): no nondeterminism, and each history tells the path it took.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { paymentWorkflowId } from '../../workflows/definitions';
import { testDataConverter, workflowBundlePath } from '../support/env';
import { call } from '../support/openapi';
import { createPayment, type MadePayment, reaches } from '../support/operator-payments';
import { Stack } from '../support/stack';

describe('histories written by the cluster replay with the workflow code', () => {
  let s: Stack;
  beforeAll(async () => {
    // A short late window: each workflow ends soon after its payment, and a whole history is replayed.
    s = await Stack.start({
      env: { PAYMENT_QUERY_SCHEDULE: '1s,2s', PAYMENT_EXPIRY: '1m', LATE_CALLBACK_WINDOW: '3s' },
    });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('replays a paid, a found-by-query, a declined and a cancelled payment without nondeterminism', async () => {
    const paths: { name: string; payment: MadePayment; status: string; resolvedBy: string | null }[] = [];
    const paid = await createPayment(s);
    expect(await s.buyer(paid.channelPaymentId, 'pay')).toBe(200);
    paths.push({ name: 'callback', payment: paid, status: 'SUCCESS', resolvedBy: 'callback' });

    s.sandbox.setFaults({ callbackDropRate: 1 });
    const queried = await createPayment(s);
    expect(await s.buyer(queried.channelPaymentId, 'pay')).toBe(200);
    paths.push({ name: 'query', payment: queried, status: 'SUCCESS', resolvedBy: 'query' });
    const declined = await createPayment(s);
    expect(await s.buyer(declined.channelPaymentId, 'decline')).toBe(200);
    paths.push({ name: 'declined', payment: declined, status: 'FAILED', resolvedBy: 'query' });
    s.sandbox.setFaults({ callbackDropRate: 0 });

    const cancelled = await createPayment(s);
    const cancel = await call(s.apiUrl, 'POST', `/payments/${cancelled.paymentId}/cancel`, { body: {} });
    expect(cancel.status).toBeLessThan(300);
    paths.push({ name: 'cancelled', payment: cancelled, status: 'CANCELLED', resolvedBy: null });

    for (const p of paths) await reaches(s, p.payment, p.status, 60_000);
    const histories = [];
    for (const p of paths) {
      const handle = s.workerTemporal.workflow.getHandle(paymentWorkflowId(p.payment.paymentId));
      const row = await s.eventually(`${p.name}'s order notice to be acknowledged`, async () => {
        const r = await s.repo.get(p.payment.paymentId);
        return r?.order_notified_at != null && r;
      });
      if (p.resolvedBy) expect({ path: p.name, by: row.resolved_by }).toEqual({ path: p.name, by: p.resolvedBy });
      await handle.result();
      const history = await handle.fetchHistory();
      // What the path left in the history: the callback signal where one came, none where every callback was lost.
      const signals = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
      expect({ path: p.name, signalled: signals > 0 }).toEqual({
        path: p.name,
        signalled: p.name !== 'query' && p.name !== 'declined',
      });
      histories.push({ workflowId: `${p.name}-${p.payment.paymentId}`, history });
      expect(historyToJSON(history).length).toBeGreaterThan(0);
    }
    const results = [];
    for await (const r of Worker.runReplayHistories(
      { workflowBundle: { codePath: workflowBundlePath() }, dataConverter: testDataConverter() },
      histories,
    )) {
      results.push({ id: r.workflowId.split('-')[0], error: r.error?.message });
    }
    expect(results).toEqual(paths.map((p) => ({ id: p.name, error: undefined })));
  }, 300_000);
});
