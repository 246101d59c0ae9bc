// Rotating the payload key with payments in flight, on the dev server with the worker as a real process: payments
// started under key A finish after the worker is restarted with key B first (A kept to decrypt what A encrypted),
// and what is written after the restart is encrypted with B. With A removed instead, a payment whose history A
// encrypted does not go quietly: every workflow task fails, visibly (WorkflowTaskFailed in its history, the worker's
// log naming the key id), the payment waits, and it finishes once A is configured again.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { dataConverterFor } from '../../codec/data-converter';
import { METADATA_KEY_ID } from '../../codec/encryption-codec';
import { loadConfig } from '../../config';
import { DECIDED_STATUSES } from '../../workflows/states';
import { devServerAddress } from '../support/env';
import { PaymentHarness, SECOND, type StartedPayment } from '../support/payment-harness';

const root = join(__dirname, '..', '..');
const A = `rot-a:${randomBytes(32).toString('base64')}`;
const B = `rot-b:${randomBytes(32).toString('base64')}`;
const clientFor = (connection: Connection, keys: string) =>
  new Client({ connection, dataConverter: dataConverterFor(loadConfig({ PAYLOAD_ENCRYPTION_KEYS: keys })) });

/** The key id of every encrypted payload in a history, in order (search attributes, in clear, have none). */
function keyIds(history: temporal.api.history.v1.IHistory): string[] {
  const ids: string[] = [];
  const walk = (o: unknown): void => {
    if (!o || typeof o !== 'object') return;
    const meta = (o as { metadata?: Record<string, Uint8Array> }).metadata;
    if (meta?.[METADATA_KEY_ID]) ids.push(Buffer.from(meta[METADATA_KEY_ID]).toString('utf8'));
    for (const v of Object.values(o)) walk(v);
  };
  walk(history.events);
  return ids;
}

describe('rotating the payload key with payments in flight', () => {
  let connection: Connection;
  let h: PaymentHarness;
  const workers: ChildProcess[] = [];
  let logs = '';

  beforeAll(async () => {
    connection = await Connection.connect({ address: devServerAddress() });
    // The API's side of the rotation: it starts payments under A.
    h = await PaymentHarness.create({ client: clientFor(connection, A), inProcessWorker: false });
  });
  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    await h?.close();
    await connection?.close();
  });

  function startWorker(keys: string): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'worker', 'main.ts')], {
      env: h.workerProcessEnv({ PAYLOAD_ENCRYPTION_KEYS: keys }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => (logs += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (logs += b.toString()));
    workers.push(child);
    return child;
  }

  async function stop(worker: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }

  const decided = async (p: StartedPayment) => {
    const row = await h.payment(p.paymentId);
    return DECIDED_STATUSES.includes(row.status as (typeof DECIDED_STATUSES)[number]) && row.order_notified_at
      ? row.status
      : undefined;
  };
  async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('finishes payments started under A after a restart with B first, writing B from then on', async () => {
    const workerA = startWorker(A);
    const payments = [];
    for (let i = 0; i < 3; i++) payments.push(await h.startPayment({ policy: { querySchedule: [2 * SECOND] } }));
    const channelIds = await Promise.all(payments.map((p) => h.channelPaymentIdOf(p)));
    await stop(workerA); // the restart: the stack comes back with the new key first, the old one kept

    startWorker(`${B},${A}`);
    for (const id of channelIds) await h.buyer(id, 'pay'); // callbacks dropped: the workflows' queries find them
    for (const p of payments) expect(await until(`${p.paymentId} to finish`, () => decided(p))).toBe('SUCCESS');

    const reader = clientFor(connection, `${B},${A}`);
    for (const p of payments) {
      const handle = reader.workflow.getHandle(p.handle.workflowId);
      const ids = keyIds(await handle.fetchHistory());
      // A first (the start, the channel's creation), then B once the new worker wrote.
      expect(ids[0]).toBe('rot-a');
      expect(ids.at(-1)).toBe('rot-b');
      expect(ids.indexOf('rot-b')).toBeGreaterThan(ids.lastIndexOf('rot-a'));
      expect(await handle.result()).toMatchObject({ status: 'SUCCESS' });
    }
    const order = await h.order(payments[0]!.orderId);
    expect(order.status).toBe('PAID');
  }, 180_000);

  it('with A removed, fails every workflow task loudly and keeps the payment until A is back', async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) await stop(w);
    const workerA = startWorker(A);
    const p = await h.startPayment({ policy: { querySchedule: [2 * SECOND] } });
    const channelId = await h.channelPaymentIdOf(p);
    await stop(workerA);

    logs = '';
    const workerB = startWorker(B); // A forgotten: its payloads cannot be read
    await h.buyer(channelId, 'pay');
    const reader = clientFor(connection, `${B},${A}`);
    const handle = reader.workflow.getHandle(p.handle.workflowId);
    // Visible in the history (and so in the Web UI): workflow tasks failing, the workflow still running.
    await until('a failed workflow task', async () => {
      const history = await handle.fetchHistory();
      return history.events!.some((e) => e.workflowTaskFailedEventAttributes) ? true : undefined;
    });
    expect(logs).toMatch(/rot-a/); // the worker says which key it lacks
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect((await h.payment(p.paymentId)).status).toBe('PAYING');
    expect((await h.order(p.orderId)).status).toBe('UNPAID');

    await stop(workerB);
    startWorker(`${B},${A}`); // A back: the payment goes on from where it was
    expect(await until(`${p.paymentId} to finish`, () => decided(p))).toBe('SUCCESS');
    expect((await h.order(p.orderId)).status).toBe('PAID');
  }, 180_000);
});
