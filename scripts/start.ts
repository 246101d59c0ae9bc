// `npm start`: the whole stack on one machine, on embedded defaults. Temporal dev server (SQLite under .data/,
// Web UI), PostgreSQL (embedded under .data/ unless DATABASE_URL is set), migrations, then the worker and the API.
// Prints where everything is; Ctrl-C stops it all in order. A second run reuses .data/.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfigOrExit } from '../config';
import { createDb, migrateLatest } from '../db/knex';
import { projectRoot, readToolchain } from './stack/toolchain';
import { type DevServer, startDevServer } from './stack/temporal-dev-server';
import { prefixLines, Supervisor, tsxService } from './stack/supervisor';
import { waitFor } from './stack/net';

const dataDir = join(projectRoot, '.data');

function say(msg: string): void {
  process.stdout.write(`[start] ${msg}\n`);
}

function assertPortFree(port: number, what: string, variable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(
        new Error(`port ${port} (${what}) is already in use: is another npm start running? Set ${variable} to move it`),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** Runs scripts/stack/embedded-postgres-main.ts in its own process group and resolves with the URL it prints once ready. */
function startEmbeddedDbProcess(port: number): Promise<{ url: string; dataDir: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'scripts', 'stack', 'embedded-postgres-main.ts'), join(dataDir, 'postgres'), String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  prefixLines('postgres', 34, child.stderr!, process.stderr);
  return new Promise((resolve, reject) => {
    let dataDir = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('DATA_DIR=')) dataDir = line.slice('DATA_DIR='.length);
      if (line.startsWith('DATABASE_URL=')) resolve({ url: line.slice('DATABASE_URL='.length), dataDir, child });
    });
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited with ${code} before it was ready`)));
  });
}

async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const started = Date.now();
  const config = loadConfigOrExit();
  const toolchain = readToolchain();
  mkdirSync(dataDir, { recursive: true });

  const supervisor = new Supervisor(say);
  let temporal: DevServer | undefined;
  let embeddedDb: ChildProcess | undefined;
  let shuttingDown = false;
  const shutdown = async (why: string, code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`${why}: stopping...`);
    await supervisor.stopAll();
    if (embeddedDb) await stopChild(embeddedDb);
    await temporal?.stop();
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('Ctrl-C', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('exit', () => {
    supervisor.killAllNow();
    embeddedDb?.kill('SIGTERM');
    temporal?.process.kill('SIGTERM');
  });

  try {
    await assertPortFree(config.api.port, 'API', 'API_PORT');
    await assertPortFree(config.channel.port, 'SandboxPay', 'SANDBOX_PORT');
    await assertPortFree(config.orders.port, 'order service', 'ORDER_SERVICE_PORT');
    let temporalAddress = config.temporal.address;
    if (config.stack.embedTemporal) {
      await assertPortFree(config.stack.temporalPort, 'Temporal', 'TEMPORAL_PORT');
      await assertPortFree(config.temporal.uiPort, 'Temporal Web UI', 'TEMPORAL_UI_PORT');
      say(`starting the Temporal dev server (${toolchain.temporalCli})...`);
      temporal = await startDevServer({
        binary: toolchain.temporalCli,
        port: config.stack.temporalPort,
        uiPort: config.temporal.uiPort,
        dbFile: join(dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        detached: true,
        // Its shutdown chatter (pollers failing as it stops) is noise; everything before that is shown.
        onOutput: (line) => {
          if (!shuttingDown) process.stderr.write(`temporal | ${line}\n`);
        },
      });
      temporalAddress = temporal.address;
    }

    let databaseUrl = config.database.url;
    let embeddedDataDir = '';
    if (config.stack.embedDatabase) {
      await assertPortFree(config.database.embeddedPort, 'embedded PostgreSQL', 'EMBEDDED_DB_PORT');
      say('starting the embedded PostgreSQL...');
      const db = await startEmbeddedDbProcess(config.database.embeddedPort);
      embeddedDb = db.child;
      databaseUrl = db.url;
      embeddedDataDir = db.dataDir;
    }

    const db = createDb({ url: databaseUrl!, poolMax: 1, applicationName: 'payments-start' });
    try {
      const applied = await migrateLatest(db);
      say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database schema is up to date');
    } finally {
      await db.destroy();
    }

    const env = { ...process.env, TEMPORAL_ADDRESS: temporalAddress, DATABASE_URL: databaseUrl };
    await supervisor.start(tsxService({ name: 'sandbox', entry: join(projectRoot, 'sandbox', 'main.ts'), env }));
    await supervisor.start(tsxService({ name: 'worker', entry: join(projectRoot, 'worker', 'main.ts'), env }));
    await supervisor.start(tsxService({ name: 'api', entry: join(projectRoot, 'api', 'main.ts'), env }));

    const apiUrl = `http://localhost:${config.api.port}`;
    await waitFor(
      'the API',
      async () => {
        const res = await fetch(`${apiUrl}/readyz`);
        if (res.status !== 200) throw new Error(`/readyz answered ${res.status}`);
      },
      120_000,
      500,
    );

    const shownDb = databaseUrl!.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
    const lines = [
      '',
      `Payment orchestration is up (${((Date.now() - started) / 1000).toFixed(1)} s):`,
      `  API              ${apiUrl}  (health ${apiUrl}/healthz, readiness ${apiUrl}/readyz)`,
      config.stack.embedTemporal
        ? `  Temporal Web UI  http://localhost:${config.temporal.uiPort}  (workflows, timers, search attributes)`
        : `  Temporal         ${temporalAddress} (external; open your cluster's Web UI)`,
      `  Temporal         ${temporalAddress}  namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}`,
      `  SandboxPay       ${config.channel.url}  (simulated wallet channel; faults: GET/PUT /admin/faults)`,
      `  Order service    ${config.orders.url}/orders  (the shop's orders we keep in sync)`,
      `  Demo shop        ${config.orders.url}/shop  (buy something, pay in the wallet, watch the order turn Paid)`,
      `  PostgreSQL       ${shownDb}${config.stack.embedDatabase ? `  (embedded, data in ${embeddedDataDir})` : ''}`,
      config.stack.embedTemporal ? `  Temporal data    .data/temporal.db (kept between runs)` : '',
      '',
      'Press Ctrl-C to stop everything.',
      '',
    ];
    process.stdout.write(lines.filter((l, i, all) => l !== '' || all[i - 1] !== '').join('\n') + '\n');
  } catch (err) {
    process.stderr.write(`[start] ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown('start-up failed', 1);
  }
}

void main();
