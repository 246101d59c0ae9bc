// On the dev server, with the worker as a real process: it is SIGKILLed while a payment waits on its timer, the
// buyer pays meanwhile (the callback is lost), and a new worker process picks the payment up and finishes it.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { devServerAddress, testDataConverter } from '../support/env';
import { PaymentHarness, SECOND } from '../support/payment-harness';

const root = join(__dirname, '..', '..');

describe('a worker killed mid-payment', () => {
  let connection: Connection;
  let h: PaymentHarness;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    connection = await Connection.connect({ address: devServerAddress() });
    h = await PaymentHarness.create({
      client: new Client({ connection, dataConverter: testDataConverter() }),
      inProcessWorker: false,
    });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await h?.close();
    await connection?.close();
  });

  function startWorker(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'worker', 'main.ts')], {
      env: h.workerProcessEnv(),
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    workers.push(child);
    return child;
  }

  it('is replaced by a new worker that finishes the payment: paid once, found by the query', async () => {
    const first = startWorker();
    const p = await h.startPayment({ policy: { querySchedule: [3 * SECOND, 5 * SECOND] } });
    const channelPaymentId = await h.channelPaymentIdOf(p); // the first worker created it at the channel
    expect((await h.status(p)).status).toBe('PAYING');

    const killed = new Promise((resolve) => first.once('exit', (_code, signal) => resolve(signal)));
    first.kill('SIGKILL');
    expect(await killed).toBe('SIGKILL');
    await h.buyer(channelPaymentId, 'pay'); // while no worker runs; the sandbox drops the callback

    startWorker();
    expect(await h.result(p)).toMatchObject({ status: 'SUCCESS', resolvedBy: 'query' });
    const row = await h.payment(p.paymentId);
    expect(row.status).toBe('SUCCESS');
    expect(row.order_notified_at).not.toBeNull();
    const order = await h.order(p.orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
  });
});
