// Once per `jest` run: a PostgreSQL server, a Temporal dev server (from the installed binary) and one workflow
// bundle, shared by every test file through environment variables. Each file makes its own database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorkflowBundle } from '../../scripts/build-workflows';
import { readToolchain } from '../../scripts/stack/toolchain';
import { startDevServer } from '../../scripts/stack/temporal-dev-server';
import { startTestPostgres } from '../../scripts/stack/test-postgres';
import { freePort } from '../../scripts/stack/net';

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const toolchain = readToolchain();
  const stops: (() => Promise<void>)[] = [];
  (globalThis as { __stops?: typeof stops }).__stops = stops;

  if (!process.env.TEST_DATABASE_URL) {
    if (!toolchain.pgBinDir) throw new Error('no PostgreSQL binaries: run through npm test, or set TEST_DATABASE_URL');
    const pg = await startTestPostgres(toolchain.pgBinDir);
    stops.push(pg.stop);
    process.env.TEST_DATABASE_URL = pg.url;
  }

  const server = await startDevServer({ binary: toolchain.temporalCli, port: await freePort() });
  stops.push(server.stop);
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
  process.env.TEMPORAL_TEST_SERVER_PATH = toolchain.temporalTestServer ?? '';

  const bundleDir = mkdtempSync(join(tmpdir(), 'payments-bundle-'));
  stops.push(async () => rmSync(bundleDir, { recursive: true, force: true }));
  process.env.WORKFLOW_BUNDLE_PATH = await buildWorkflowBundle(join(bundleDir, 'workflows.js'));
  process.stderr.write(
    `\n[setup] PostgreSQL, Temporal dev server and workflow bundle ready in ${Date.now() - t0} ms\n`,
  );
}
