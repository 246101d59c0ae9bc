// The real `npm start` entry (scripts/start.ts, as package.json runs it) on free ports with its data in a temporary
// directory: it comes up, takes a payment, and recovers by itself when the Temporal dev server (whose port is also
// kept busy for a moment, so its first restarts fail) and then the embedded PostgreSQL are SIGKILLed: /readyz 503,
// then 200 again, the payment still there. Ctrl-C then stops everything in order, exit code 0, no process left.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_VARIABLES } from '../../config';
import { actAsBuyer } from '../../scripts/chaos/channels';
import { freePort } from '../../scripts/stack/net';
import {
  identify,
  processTree,
  type ProcessId,
  running,
  sleep,
  type StackState,
  until,
  within,
  launchNpmStart,
} from '../support/processes';

const root = join(__dirname, '..', '..');
/** Takes a port with a listener that drops every connection (a port some other process holds for a while). */
function holdTcpPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('npm start', () => {
  let dir: string;
  let launcher: ChildProcess;
  let output: () => string;
  let said: string[] = [];
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  const seen = new Map<number, ProcessId>();
  let apiUrl: string;
  let temporalPort: number;
  let ordersUrl: string;

  const state = (): StackState => JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackState;
  /** /readyz's status (0: no answer in 10 s); the answers are kept in `polls` (repeats counted) for the log. */
  const polls: { at: string; ms: number; answer: string; times: number }[] = [];
  const readyz = async () => {
    const t = Date.now();
    const res = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    const answer = `${res?.status ?? 0} ${res ? (await res.text()).slice(0, 160) : ''}`;
    const last = polls[polls.length - 1];
    if (last?.answer === answer) last.times++;
    else polls.push({ at: new Date(t).toISOString().slice(11, 23), ms: Date.now() - t, answer, times: 1 });
    return res?.status ?? 0;
  };
  const remember = () =>
    processTree(launcher.pid!).forEach((pid) => {
      const id = identify(pid);
      if (id && !seen.has(pid)) seen.set(pid, id);
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'payments-npm-start-'));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, who must reach its data dir
    const ports = {
      API_PORT: await freePort(),
      SANDBOX_PORT: await freePort(),
      ORDER_SERVICE_PORT: await freePort(),
      TEMPORAL_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
      EMBEDDED_DB_PORT: await freePort(),
      WORKER_METRICS_PORT: await freePort(),
      TEMPORAL_SDK_METRICS_PORT: await freePort(),
      WECHATPAY_EMULATOR_PORT: await freePort(),
      ALIPAY_EMULATOR_PORT: await freePort(),
      LOCALSTRIPE_PORT: await freePort(),
    };
    apiUrl = `http://127.0.0.1:${ports.API_PORT}`;
    temporalPort = ports.TEMPORAL_PORT;
    ordersUrl = `http://127.0.0.1:${ports.ORDER_SERVICE_PORT}`;
    // Nothing of the test run's own configuration leaks in (TEMPORAL_ADDRESS or DATABASE_URL would make it use
    // external servers).
    const launched = await launchNpmStart(
      root,
      [],
      {
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
        STACK_DATA_DIR: dir,
        LOG_LEVEL: 'info', // kept in memory; shown only when the test fails
      },
      CONFIG_VARIABLES,
      90_000,
    );
    launcher = launched.launcher;
    exited = launched.exited;
    said = launched.said;
    output = launched.output;
    remember();
  }, 120_000);

  afterAll(async () => {
    // What the launcher itself said (starts, deaths, restarts, the shutdown): short, and what one wants in a CI log.
    process.stderr.write(`[npm-start test] the launcher said:\n  ${said.join('\n  ')}\n`);
    const shown = polls.map(
      (p) => `${p.at} (${p.ms} ms) ${p.answer}${p.times > 1 ? ` (and ${p.times - 1} more)` : ''}`,
    );
    process.stderr.write(`[npm-start test] /readyz answers:\n  ${shown.join('\n  ')}\n`);
    // If a test failed half-way: leave nothing running.
    if (launcher?.exitCode === null && launcher.signalCode === null) {
      remember();
      launcher.kill('SIGINT');
      await within(exited, 20_000, undefined);
    }
    for (const p of seen.values()) if (running(p)) process.kill(p.pid, 'SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 40_000);

  /**
   * SIGKILLs one supervised process and times how long /readyz takes to be 503, then 200 again. With `holdPort`,
   * that port stays taken (by a listener that drops every connection) until /readyz has said 503: the dev server is
   * back within about 1.5 s, inside the API's own 2 s readiness deadline with retries, so without the hold /readyz
   * may never show the outage. The hold also makes the first restarts fail, so the backoff is exercised.
   */
  async function killAndRecover(name: 'temporal' | 'postgres', holdPort?: number): Promise<void> {
    const before = state().processes[name]!;
    expect(before.state).toBe('running');
    const victim = identify(before.pid!)!;
    const t0 = Date.now();
    process.kill(before.pid!, 'SIGKILL');
    // The launcher has reaped it (so every thread is gone and its ports are closed) once it waits to restart it.
    await until(
      `the launcher to see ${name} (pid ${before.pid}) die`,
      async () => (!running(victim) && state().processes[name]!.state === 'waiting to restart' ? true : undefined),
      5000,
      10,
    );
    const blocker = holdPort === undefined ? undefined : await holdTcpPort(holdPort);
    try {
      await until(
        `/readyz to fail once ${name} is gone`,
        async () => ((await readyz()) === 503 ? true : undefined),
        15_000,
      );
    } finally {
      await new Promise((resolve) => (blocker ? blocker.close(resolve) : resolve(undefined)));
    }
    const down = Date.now() - t0;
    await until(
      `/readyz to be 200 again after ${name} died`,
      async () => ((await readyz()) === 200 ? true : undefined),
      60_000,
      200,
    );
    process.stderr.write(
      `[npm-start test] ${name} SIGKILLed: /readyz 503 after ${down} ms, 200 after ${Date.now() - t0} ms\n`,
    );

    // /readyz can pass a moment before the launcher's own readiness check does
    const after = await until(
      `the state file to show ${name} running again`,
      async () => (state().processes[name]!.state === 'running' ? state().processes[name]! : undefined),
      10_000,
    );
    expect(after.pid).not.toBe(before.pid);
    expect(output()).toMatch(
      new RegExp(`${name} \\(pid ${before.pid}\\) exited unexpectedly with signal SIGKILL after .*; restart #1 in \\d`),
    );
    if (holdPort === undefined) {
      expect(after.restarts).toBe(before.restarts + 1);
    } else {
      // at least one restart found the port taken, exited at once, and was retried after a longer wait
      expect(after.restarts).toBeGreaterThanOrEqual(before.restarts + 2);
      expect(output()).toMatch(
        new RegExp(`${name} did not come back: exited with code 1 before it was ready .*; restart #2 in \\d`),
      );
    }
    expect(output()).toMatch(new RegExp(`${name} is back \\(pid ${after.pid}, restart #${after.restarts}[,)]`));
    remember();
  }

  it('runs every process as a child of the launcher, pids in the state file', () => {
    const s = state();
    expect(s.launcherPid).toBe(launcher.pid);
    expect(Object.keys(s.processes)).toEqual(['temporal', 'postgres', 'localstripe', 'sandbox', 'worker', 'api']);
    const children = processTree(launcher.pid!);
    for (const p of Object.values(s.processes)) {
      expect(p.state).toBe('running');
      expect(children).toContain(p.pid);
    }
    // the Temporal dev server's SQLite file and the database are in the data directory asked for
    expect(existsSync(join(dir, 'temporal.db'))).toBe(true);
    expect(existsSync(join(dir, 'postgres', 'PG_VERSION'))).toBe(true);
  });

  let paymentId: string;

  it('takes a payment', async () => {
    expect(await readyz()).toBe(200);
    const orderId = `npm-start-${Date.now()}`;
    const order = await fetch(`${ordersUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId, amount: 2599, currency: 'CNY' }),
    });
    expect(order.status).toBeLessThan(300);
    const res = await fetch(`${apiUrl}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `${orderId}-attempt-1` },
      body: JSON.stringify({ orderId, amount: 2599, currency: 'CNY', channel: 'sandboxpay' }),
    });
    const body = (await res.json()) as { paymentId: string; status: string };
    expect([201, 202]).toContain(res.status);
    paymentId = body.paymentId;
    expect(paymentId).toBeTruthy();
  });

  it('brings every channel up on its double, with development keys it made under its data directory', async () => {
    const banner = /Channels +([a-z, ]+?) +\(/.exec(output())?.[1]?.split(', ');
    expect(banner?.sort()).toEqual(['alipay', 'sandboxpay', 'stripe', 'wechatpay']);
    for (const channel of ['wechatpay', 'alipay', 'stripe']) {
      const orderId = `npm-start-${channel}-${Date.now()}`;
      await fetch(`${ordersUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId, amount: 2599, currency: 'CNY' }),
      });
      const res = await fetch(`${apiUrl}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${orderId}-attempt-1` },
        body: JSON.stringify({ orderId, amount: 2599, currency: 'CNY', channel }),
      });
      const body = (await res.json()) as { paymentId: string; handoff?: { kind: string } };
      expect([channel, res.status, body.handoff?.kind]).toEqual([
        channel,
        201,
        channel === 'stripe' ? 'client_secret' : 'qr_code',
      ]);
      const paid = await actAsBuyer(body as unknown as Record<string, unknown>, 'pay');
      expect(paid).toMatch(/^pay: (SUCCESS|succeeded)$/);
      await until(
        `the ${channel} order to be paid`,
        async () => {
          const order = (await (await fetch(`${ordersUrl}/orders/${orderId}`)).json()) as { status: string };
          return order.status === 'PAID' ? true : undefined;
        },
        30_000,
      );
    }
    expect(existsSync(join(dir, 'keys', 'stripe.json'))).toBe(true);
  });

  it('restarts the Temporal dev server when it is SIGKILLed, until its port is free; /readyz recovers by itself', async () => {
    await killAndRecover('temporal', temporalPort);
  });

  it('restarts PostgreSQL when the postmaster is SIGKILLed; the payment is still there', async () => {
    await killAndRecover('postgres');
    const res = await fetch(`${apiUrl}/payments/${paymentId}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ paymentId, orderId: expect.stringMatching(/^npm-start-/) });
  });

  it('stops everything in order on Ctrl-C: exit code 0, nothing restarted, no process left', async () => {
    remember();
    const supervised = Object.entries(state().processes).map(([name, p]) => ({ name, id: identify(p.pid!)! }));
    const stopping = output().length;
    launcher.kill('SIGINT');
    const t0 = Date.now();
    // When each supervised process goes, seen from outside.
    const goneAt: Record<string, number> = {};
    const watch = (async () => {
      while (launcher.exitCode === null && launcher.signalCode === null) {
        for (const { name, id } of supervised) if (!(name in goneAt) && !running(id)) goneAt[name] = Date.now() - t0;
        await sleep(10);
      }
    })();
    const how = await within(exited, 45_000, 'still running after 45 s');
    await watch;
    process.stderr.write(
      `[npm-start test] Ctrl-C: the launcher exited after ${Date.now() - t0} ms; gone at ${JSON.stringify(goneAt)}\n`,
    );
    expect(how).toEqual({ code: 0, signal: null });
    // API, worker and sandbox first (in that order), then PostgreSQL, then Temporal
    expect(Object.keys(goneAt)).toHaveLength(6);
    const order = ['api', 'worker', 'sandbox', 'localstripe', 'postgres', 'temporal'].map((name) => goneAt[name]!);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    const tail = output().slice(stopping);
    expect(tail).toContain('Ctrl-C: stopping...');
    expect(tail).toContain('[start] stopped');
    expect(tail).not.toMatch(/restart #|exited unexpectedly/);
    await until('every process to be gone', async () => ([...seen.values()].some(running) ? undefined : true), 5000);
    expect(existsSync(join(dir, 'stack.json'))).toBe(false);
  });
});
