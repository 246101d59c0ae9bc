// The cluster profile's foundation, proven on a real Temporal cluster: PostgreSQL (the machine's binaries) holding
// Temporal's persistence and visibility, the server's four services as separate supervised processes, the Web UI
// server, and the whole payments stack (test/support/stack.ts) pointed at the cluster's frontend. A payment is paid
// end to end; every list filter of the README's "Operating it" table answers on SQL visibility with our search
// attributes; the history service is SIGKILLed, restarted by the supervisor, and a second payment completes; then
// everything stops and no process is left.
//
// Part of `npm test` (jest.cluster.config.js, after the main suite); alone: `npm run test:cluster`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { buildWorkflowBundle } from '../../scripts/build-workflows';
import { Supervisor } from '../../scripts/stack/supervisor';
import {
  CLUSTER_SERVICES,
  type ClusterPorts,
  clusterBinaries,
  freeClusterPorts,
  processName,
  setupTemporalSchema,
  startTemporalCluster,
  type TemporalCluster,
} from '../../scripts/stack/temporal-cluster';
import { startTestPostgres, type TestPostgres } from '../../scripts/stack/test-postgres';
import { readToolchain } from '../../scripts/stack/toolchain';
import { paymentWorkflowId } from '../../workflows/definitions';
import { createPayment, type MadePayment, reaches } from '../support/operator-payments';
import { operatingFilters, type ReadmeCommand } from '../support/operator-readme';
import { Stack } from '../support/stack';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a real Temporal cluster on PostgreSQL (four services, UI server, supervised)', () => {
  const toolchain = readToolchain();
  const binaries = clusterBinaries(toolchain);
  const logDir = mkdtempSync(join(tmpdir(), 'payments-cluster-logs-'));
  const bundleDir = mkdtempSync(join(tmpdir(), 'payments-bundle-'));
  const log: string[] = [];
  // The supervisor's own lines (starts, restarts) on stderr as they come; each process's output in its log file,
  // kept when the run fails (removed by the last test).
  const say = (msg: string) => {
    log.push(msg);
    process.stderr.write(`[cluster] ${msg}\n`);
  };
  const supervisor = new Supervisor(say, { logDir, restartDelayMs: 500 });
  let pg: TestPostgres;
  let ports: ClusterPorts;
  let cluster: TemporalCluster;
  let s: Stack;
  let temporal: Client;
  let paid: MadePayment;
  let open: MadePayment;
  const pids: number[] = [];
  const SHARED_ENV = ['TEMPORAL_TEST_ADDRESS', 'TEST_DATABASE_URL', 'WORKFLOW_BUNDLE_PATH'] as const;
  const savedEnv: Partial<Record<(typeof SHARED_ENV)[number], string>> = {};

  beforeAll(async () => {
    if (!toolchain.pgBinDir) throw new Error('no PostgreSQL binaries: run node scripts/bootstrap.mjs cluster');
    say(`process logs in ${logDir}`);
    pg = await startTestPostgres(toolchain.pgBinDir);
    pids.push(pg.pid!);
    ports = await freeClusterPorts();
    cluster = await startTemporalCluster(supervisor, {
      binaries,
      databaseUrl: pg.url,
      ports,
      logLevel: 'warn',
      say,
    });
    // The stack (test/support/stack.ts) finds Temporal, its database server and the workflow bundle here (this
    // file's own cluster, not the run's shared one: put back after).
    for (const k of SHARED_ENV) savedEnv[k] = process.env[k];
    process.env.TEMPORAL_TEST_ADDRESS = cluster.address;
    process.env.TEST_DATABASE_URL = pg.url;
    process.env.WORKFLOW_BUNDLE_PATH = await buildWorkflowBundle(join(bundleDir, 'workflows.js'));
    s = await Stack.start();
    temporal = s.workerTemporal;
  }, 600_000);

  afterAll(async () => {
    for (const k of SHARED_ENV) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
    // A test that failed before the last one: nothing may outlive the run.
    await s?.stop().catch(() => undefined);
    await supervisor.stopAll().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
    rmSync(bundleDir, { recursive: true, force: true });
  }, 120_000);

  it('runs each service as its own process with its own metrics endpoint, and the UI server on the frontend', async () => {
    const snapshot = supervisor.snapshot();
    expect(cluster.processes).toEqual([...CLUSTER_SERVICES.map(processName), 'temporal-ui']);
    const servicePids = CLUSTER_SERVICES.map((svc) => snapshot[processName(svc)]!.pid!);
    expect(new Set(servicePids).size).toBe(4);
    for (const pid of servicePids) expect(alive(pid)).toBe(true);
    for (const svc of CLUSTER_SERVICES) {
      const res = await fetch(`http://127.0.0.1:${ports.services[svc].metrics}/metrics`);
      expect(res.status).toBe(200);
      // Each endpoint reports its own service (the server tags every metric with it).
      expect(await res.text()).toContain(`service_name="${svc}"`);
    }
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/api/v1/namespaces`);
    expect(ui.status).toBe(200);
    const names = ((await ui.json()) as { namespaces: { namespaceInfo: { name: string } }[] }).namespaces.map(
      (n) => n.namespaceInfo.name,
    );
    expect(names).toContain('default');
  });

  it('sets up the schema idempotently: a second setup finds the databases and applies nothing', async () => {
    const again = await setupTemporalSchema(binaries.sqlTool, binaries.schema, pg.url);
    expect(again.created).toEqual([]);
  });

  it('takes a payment end to end: API, worker, SandboxPay callback, order marked paid', async () => {
    paid = await createPayment(s);
    expect(await s.buyer(paid.channelPaymentId, 'pay')).toBe(200);
    await reaches(s, paid, 'SUCCESS', 60_000);
    await s.eventually('the order to be paid', async () => (await s.order(paid.orderId)).status === 'PAID', 60_000);
    open = await createPayment(s); // left open: the stuck and overdue filters must find it
    await reaches(s, open, 'PAYING', 60_000);
  });

  /** What each README filter must list (present) and must not (absent), of the paid and the open payment. */
  const expectations: { row: RegExp; present: () => MadePayment[]; absent: () => MadePayment[] }[] = [
    { row: /^payments only/, present: () => [paid, open], absent: () => [] },
    { row: /^one order's payments/, present: () => [paid], absent: () => [open] },
    { row: /^stuck: open past expiry/, present: () => [open], absent: () => [paid] },
    { row: /^overdue/, present: () => [open], absent: () => [paid] },
    { row: /^late successes/, present: () => [], absent: () => [paid, open] },
    { row: /^waiting for a person/, present: () => [], absent: () => [paid, open] },
    { row: /^resolved by a query/, present: () => [], absent: () => [paid, open] },
    { row: /^by channel/, present: () => [paid, open], absent: () => [] },
  ];

  /** The filter as the README writes it, its order id and times made this run's (an hour ahead: "by now"). */
  const queryOf = (filter: ReadmeCommand) =>
    /--query "(.*)"$/
      .exec(filter.text)![1]!
      .replaceAll("'o-1'", `'${paid.orderId}'`)
      .replace(/'\d{4}-\d\d-\d\dT[\d:.]+Z'/g, `'${new Date(Date.now() + 3_600_000).toISOString()}'`);

  it("answers every list filter of the README's table on SQL visibility, with our search attributes", async () => {
    const filters = operatingFilters();
    expect(filters.length).toBeGreaterThanOrEqual(expectations.length);
    for (const filter of filters) {
      const expected = expectations.find((e) => e.row.test(filter.row ?? ''));
      if (!expected) throw new Error(`no expectation here for the README's filter "${filter.row}"`);
      const query = queryOf(filter);
      const listed = await s.eventually(
        `the filter "${filter.row}" to answer as expected`,
        async () => {
          const ids: string[] = [];
          for await (const wf of temporal.workflow.list({ query })) ids.push(wf.workflowId);
          const ok =
            expected.present().every((p) => ids.includes(paymentWorkflowId(p.paymentId))) &&
            expected.absent().every((p) => !ids.includes(paymentWorkflowId(p.paymentId)));
          return ok && ids;
        },
        30_000,
      );
      expect(listed).toEqual(expect.arrayContaining(expected.present().map((p) => paymentWorkflowId(p.paymentId))));
    }
  });

  it('restarts a SIGKILLed history service, and a second payment completes', async () => {
    const name = processName('history');
    const before = supervisor.snapshot()[name]!;
    expect(before.state).toBe('running');
    process.kill(before.pid!, 'SIGKILL');
    await s.eventually(
      'the supervisor to restart the history service',
      async () => {
        const now = supervisor.snapshot()[name]!;
        return now.state === 'running' && now.restarts === 1 && now.pid !== before.pid;
      },
      180_000,
    );
    expect(alive(before.pid!)).toBe(false);
    expect(log.join('\n')).toMatch(/temporal-history \(pid \d+\) exited unexpectedly with signal SIGKILL/);

    const second = await createPayment(s);
    expect(await s.buyer(second.channelPaymentId, 'pay')).toBe(200);
    await reaches(s, second, 'SUCCESS', 90_000);
    await s.eventually('the order to be paid', async () => (await s.order(second.orderId)).status === 'PAID', 60_000);
  }, 300_000);

  it('stops everything cleanly: no process is left', async () => {
    const snapshot = supervisor.snapshot();
    for (const p of Object.values(snapshot)) if (p.pid) pids.push(p.pid);
    expect(pids.length).toBe(1 + CLUSTER_SERVICES.length + 1); // PostgreSQL, four services, UI server
    await s.stop();
    s = undefined as unknown as Stack;
    await supervisor.stopAll();
    expect(Object.values(supervisor.snapshot()).map((p) => p.state)).toEqual(Array(5).fill('stopped'));
    await pg.stop();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    rmSync(logDir, { recursive: true, force: true });
  }, 120_000);
});
