// Once per cluster run (jest.cluster.config.js): what test/support/global-setup.ts gives the main suite, on the
// production engine instead of the dev server: a PostgreSQL server holding both our test databases and Temporal's
// persistence and SQL visibility, and a real Temporal cluster on it (four services, supervised, metrics and logs in a
// temporary directory). Test files written for the dev server (the API end to end, the README's operator
// commands) run unchanged against its frontend: same workflow code, same queries, another engine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorkflowBundle } from '../../scripts/build-workflows';
import { Supervisor } from '../../scripts/stack/supervisor';
import { clusterBinaries, freeClusterPorts, startTemporalCluster } from '../../scripts/stack/temporal-cluster';
import { startTestPostgres } from '../../scripts/stack/test-postgres';
import { readToolchain } from '../../scripts/stack/toolchain';

export default async function clusterGlobalSetup(): Promise<void> {
  const t0 = Date.now();
  const toolchain = readToolchain();
  const stops: (() => Promise<void>)[] = [];
  (globalThis as { __stops?: typeof stops }).__stops = stops;
  if (!toolchain.pgBinDir) throw new Error('no PostgreSQL binaries: run through npm test');

  const pg = await startTestPostgres(toolchain.pgBinDir);
  stops.push(pg.stop);
  process.env.TEST_DATABASE_URL = pg.url;

  const logDir = mkdtempSync(join(tmpdir(), 'payments-cluster-suite-'));
  const say = (msg: string) => process.stderr.write(`[cluster] ${msg}\n`);
  const supervisor = new Supervisor(say, { logDir, restartDelayMs: 500 });
  stops.push(async () => {
    await supervisor.stopAll();
    rmSync(logDir, { recursive: true, force: true });
  });
  const cluster = await startTemporalCluster(supervisor, {
    binaries: clusterBinaries(toolchain),
    databaseUrl: pg.url,
    ports: await freeClusterPorts({ ui: false }),
    say,
  });
  process.env.TEMPORAL_TEST_ADDRESS = cluster.address;
  process.env.TEMPORAL_TEST_SERVER_PATH = toolchain.temporalTestServer ?? '';

  const bundleDir = mkdtempSync(join(tmpdir(), 'payments-bundle-'));
  stops.push(async () => rmSync(bundleDir, { recursive: true, force: true }));
  process.env.WORKFLOW_BUNDLE_PATH = await buildWorkflowBundle(join(bundleDir, 'workflows.js'));
  say(`PostgreSQL, the Temporal cluster (logs in ${logDir}) and the workflow bundle ready in ${Date.now() - t0} ms`);
}
