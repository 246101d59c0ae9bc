// `npm start -- --engine cluster`, the production topology on one machine, as a user runs it (ports moved, data in a
// temporary directory): Temporal's four services and the UI server on a PostgreSQL of their own, two workers, two
// API replicas behind the balancer, all children of the launcher. A payment is paid through the balancer; an API
// replica SIGKILLed costs the buyers nothing (the balancer passes them to the other while the supervisor brings it
// back); a SIGKILLed history service comes back and a new payment completes; Ctrl-C stops everything, nothing left.
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES } from '../../config';
import { actAsBuyer } from '../../scripts/chaos/channels';
import { freePort, freePortWith } from '../../scripts/stack/net';
import {
  identify,
  type Launched,
  launchNpmStart,
  processTree,
  type ProcessId,
  running,
  type StackState,
  until,
  within,
} from '../support/processes';

const root = join(__dirname, '..', '..');

describe('npm start -- --engine cluster', () => {
  let dir: string;
  let run: Launched;
  let apiUrl: string;
  let ordersUrl: string;
  const seen = new Map<number, ProcessId>();
  const state = (): StackState => JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackState;
  const remember = () =>
    processTree(run.launcher.pid!).forEach((pid) => {
      const id = identify(pid);
      if (id && !seen.has(pid)) seen.set(pid, id);
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'payments-npm-start-cluster-'));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, who must reach its data dir
    // The launcher lays some ports out around the ones it is given (scripts/stack/cluster-engine.ts): the Temporal
    // services around TEMPORAL_PORT, the API replicas after API_PORT, the second worker's metrics 2 above the first's,
    // Temporal's PostgreSQL after EMBEDDED_DB_PORT.
    const ports = {
      TEMPORAL_PORT: await freePortWith([1, 2, 6, 10, -300, -299, -298, -294, 1800, 1801, 1802, 1806]),
      TEMPORAL_UI_PORT: await freePort(),
      API_PORT: await freePortWith([1, 2]),
      EMBEDDED_DB_PORT: await freePortWith([1]),
      WORKER_METRICS_PORT: await freePortWith([2]),
      TEMPORAL_SDK_METRICS_PORT: await freePortWith([2]),
      SANDBOX_PORT: await freePort(),
      ORDER_SERVICE_PORT: await freePort(),
      WECHATPAY_EMULATOR_PORT: await freePort(),
      ALIPAY_EMULATOR_PORT: await freePort(),
      LOCALSTRIPE_PORT: await freePort(),
    };
    apiUrl = `http://127.0.0.1:${ports.API_PORT}`;
    ordersUrl = `http://127.0.0.1:${ports.ORDER_SERVICE_PORT}`;
    run = await launchNpmStart(
      root,
      ['--engine', 'cluster'],
      {
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
        STACK_DATA_DIR: dir,
        LOG_LEVEL: 'info',
      },
      CONFIG_VARIABLES,
      240_000,
    );
    remember();
  }, 300_000);

  afterAll(async () => {
    process.stderr.write(`[npm-start-cluster test] the launcher said:\n  ${run?.said.join('\n  ')}\n`);
    if (run?.launcher.exitCode === null && run.launcher.signalCode === null) {
      remember();
      run.launcher.kill('SIGINT');
      await within(run.exited, 30_000, undefined);
    }
    for (const p of seen.values()) if (running(p)) process.kill(p.pid, 'SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** An order, a payment for it through the balancer (retried with its key on 5xx, as a client does), paid. */
  async function pay(tag: string): Promise<{ orderId: string; paymentId: string }> {
    const orderId = `npm-start-cluster-${tag}-${Date.now()}`;
    await fetch(`${ordersUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId, amount: 2599, currency: 'CNY' }),
    });
    const body = await until(
      `POST /payments (${tag})`,
      async () => {
        const res = await fetch(`${apiUrl}/payments`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `${orderId}-1` },
          body: JSON.stringify({ orderId, amount: 2599, currency: 'CNY', channel: 'sandboxpay' }),
        });
        return res.status === 201 || res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
      },
      60_000,
      500,
    );
    expect(await actAsBuyer(body, 'pay')).toBe('pay: SUCCESS');
    await until(
      `the order (${tag}) to be paid`,
      async () => {
        const order = (await (await fetch(`${ordersUrl}/orders/${orderId}`)).json()) as { status: string };
        return order.status === 'PAID' ? true : undefined;
      },
      60_000,
      250,
    );
    return { orderId, paymentId: String(body.paymentId) };
  }

  it('runs the cluster, two workers, two API replicas and the balancer as children of the launcher', () => {
    const s = state();
    expect(Object.keys(s.processes)).toEqual([
      'temporal-postgres',
      'temporal-history',
      'temporal-matching',
      'temporal-frontend',
      'temporal-worker',
      'temporal-ui',
      'postgres',
      'localstripe',
      'sandbox',
      'worker-1',
      'worker-2',
      'api-1',
      'api-2',
      'balancer',
    ]);
    const children = processTree(run.launcher.pid!);
    for (const [name, p] of Object.entries(s.processes)) {
      expect({ name, state: p.state, child: children.includes(p.pid!) }).toEqual({
        name,
        state: 'running',
        child: true,
      });
    }
    expect(existsSync(join(dir, 'temporal-cluster', 'postgres', 'PG_VERSION'))).toBe(true);
    expect(run.output()).toMatch(/Payment orchestration is up \([\d.]+ s, engine cluster\)/);
  });

  let first: { orderId: string; paymentId: string };

  it('takes a payment through the balancer, and both replicas serve', async () => {
    first = await pay('first');
    for (let i = 0; i < 4; i++) expect((await fetch(`${apiUrl}/payments/${first.paymentId}`)).status).toBe(200);
    const health = (await (await fetch(`${apiUrl}/balancer/health`)).json()) as { upstreams: { up: boolean }[] };
    expect(health.upstreams.map((u) => u.up)).toEqual([true, true]);
  });

  it('keeps answering buyers through the other replica while one is SIGKILLed and restarted', async () => {
    const before = state().processes['api-1']!;
    process.kill(before.pid!, 'SIGKILL');
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${apiUrl}/payments/${first.paymentId}`)).status);
    expect(statuses).toEqual(Array(20).fill(200));
    await pay('during-api-restart');
    await until(
      'api-1 to be back',
      async () => {
        const now = state().processes['api-1']!;
        return now.state === 'running' && now.pid !== before.pid ? true : undefined;
      },
      60_000,
    );
    remember();
  });

  it('brings a SIGKILLed history service back, and a new payment completes', async () => {
    const before = state().processes['temporal-history']!;
    process.kill(before.pid!, 'SIGKILL');
    await until(
      'the history service to be back',
      async () => {
        const now = state().processes['temporal-history']!;
        return now.state === 'running' && now.pid !== before.pid ? true : undefined;
      },
      120_000,
      250,
    );
    await pay('after-history-restart');
    remember();
  });

  it('stops everything on Ctrl-C: exit code 0, no process left', async () => {
    remember();
    run.launcher.kill('SIGINT');
    expect(await within(run.exited, 60_000, 'still running after 60 s')).toEqual({ code: 0, signal: null });
    await until('every process to be gone', async () => ([...seen.values()].some(running) ? undefined : true), 10_000);
    expect(run.output()).not.toMatch(/exited unexpectedly with code/);
    expect(existsSync(join(dir, 'stack.json'))).toBe(false);
  });
});
