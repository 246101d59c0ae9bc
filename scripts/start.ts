// `npm start`: the whole stack on one machine, on embedded defaults. Temporal dev server (SQLite under .data/,
// Web UI), PostgreSQL (embedded under .data/ unless DATABASE_URL is set), migrations, then the worker and the API.
// Every process it starts is supervised (scripts/stack/supervisor.ts): one that dies is started again, the same
// way, and the API's /readyz turns 200 again by itself. Prints where everything is; Ctrl-C stops it all in order.
// A second run reuses .data/ (STACK_DATA_DIR).
//
// `npm start -- --engine cluster`: the production topology on this machine instead of the dev server: Temporal's
// four services (frontend on TEMPORAL_PORT, history, matching, worker) on a PostgreSQL of their own with SQL
// visibility, the Web UI server on TEMPORAL_UI_PORT, two workers and two API replicas with the balancer on API_PORT
// (scripts/stack/cluster-engine.ts). Its binaries are built from the Go module proxy the first time it runs.
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { isColorSupported } from 'pino-pretty';
import { DEV_ADMIN_API_KEY, loadConfigOrExit } from '../config';
import { createDb, migrateLatest } from '../db/knex';
import { projectRoot, readToolchain } from './stack/toolchain';
import { devServerChild } from './stack/temporal-dev-server';
import { embeddedDbChild } from './stack/embedded-postgres';
import { Supervisor, tsxService } from './stack/supervisor';
import { waitFor } from './stack/net';
import { devChannels, localstripeChild } from './stack/channels';
import { orderNotifyDevKeys } from './stack/order-notify-keys';
import { ensureDevPayloadKey } from '../codec/keys';
import { createTerminalFormatter } from '../observability/terminal';
import {
  clusterPortList,
  type Engine,
  ENGINES,
  ensureClusterToolchain,
  fixedClusterPorts,
  startClusterEngine,
  startReplicas,
} from './stack/cluster-engine';

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

/** A path as the user would type it from here: relative when inside the current directory. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function engineFromArgs(): Engine {
  const { values } = parseArgs({ options: { engine: { type: 'string', default: 'dev' } } });
  const engine = values.engine as Engine;
  if (!ENGINES.includes(engine)) {
    process.stderr.write(`[start] ERROR: --engine must be one of ${ENGINES.join(', ')} (got "${values.engine}")\n`);
    process.exit(2);
  }
  return engine;
}

async function main(): Promise<void> {
  const started = Date.now();
  const engine = engineFromArgs();
  const toolchain = engine === 'cluster' ? ensureClusterToolchain(say) : readToolchain();
  const dataDir = loadConfigOrExit().stack.dataDir;
  mkdirSync(dataDir, { recursive: true });
  // Every real channel the user has not configured runs on its double, with development keys made once under .data/.
  const first = loadConfigOrExit();
  const dev = devChannels({
    keysDir: join(dataDir, 'keys'),
    env: process.env,
    ports: first.stack.doublePorts,
    checkoutUrl: first.sandbox.sandboxpay.url,
    localstripePython: toolchain.localstripe,
    localstripeStore: join(dataDir, 'localstripe.pickle'),
  });
  Object.assign(process.env, dev.env);
  // The worker signs its order notifications with a key of this data directory; the order service holds the same.
  Object.assign(process.env, orderNotifyDevKeys(join(dataDir, 'keys'), process.env));
  // Payloads in Temporal's history are encrypted with a key of this data directory (made once; unless keys are set).
  Object.assign(process.env, ensureDevPayloadKey(dataDir, process.env));
  const config = loadConfigOrExit();
  const stateFile = join(dataDir, 'stack.json');

  let shuttingDown = false;
  // The services write JSON log lines; a person at a terminal reads them as one line of text per event.
  const readable = process.stdout.isTTY === true && config.env !== 'production';
  const supervisor = new Supervisor(say, {
    stateFile,
    ...(readable ? { format: createTerminalFormatter({ colors: isColorSupported }) } : {}),
    // Something that keeps dying within seconds of starting (a port taken, a broken data directory, a crash at
    // start-up) is not retried forever: the stack stops, non-zero, with the reason above.
    onGiveUp: (name) => void shutdown(`${name} keeps dying`, 1),
  });
  const shutdown = async (why: string, code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`${why}: stopping...`);
    await supervisor.stopAll(); // API, worker, sandbox, then PostgreSQL, then Temporal: reverse start order
    say('stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('Ctrl-C', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('exit', () => supervisor.killAllNow());

  try {
    await assertPortFree(config.api.port, 'API', 'API_PORT');
    await assertPortFree(config.sandbox.sandboxpay.port, 'SandboxPay', 'SANDBOX_PORT');
    await assertPortFree(config.orders.port, 'order service', 'ORDER_SERVICE_PORT');
    if (config.sandbox.wechatpay) {
      await assertPortFree(config.sandbox.wechatpay.port, 'WeChat Pay emulator', 'WECHATPAY_EMULATOR_PORT');
    }
    if (config.sandbox.alipay) {
      await assertPortFree(config.sandbox.alipay.port, 'Alipay emulator', 'ALIPAY_EMULATOR_PORT');
    }
    if (dev.localstripe) await assertPortFree(dev.localstripe.port, 'localstripe', 'LOCALSTRIPE_PORT');
    let temporalAddress = config.temporal.address;
    const clusterPorts = fixedClusterPorts(config.stack.temporalPort, config.temporal.uiPort);
    const temporalDbPort = config.database.embeddedPort + 1;
    let temporalDb: { url: string; dataDir: string } | undefined;
    if (engine === 'cluster') {
      if (!config.stack.embedTemporal) {
        throw new Error('the cluster profile runs a Temporal cluster of its own: unset TEMPORAL_ADDRESS');
      }
      for (const { port, what } of clusterPortList(clusterPorts)) {
        await assertPortFree(port, what, what === 'Temporal Web UI' ? 'TEMPORAL_UI_PORT' : 'TEMPORAL_PORT');
      }
      await assertPortFree(temporalDbPort, "Temporal's PostgreSQL (EMBEDDED_DB_PORT + 1)", 'EMBEDDED_DB_PORT');
      const cluster = await startClusterEngine(supervisor, {
        toolchain,
        dataDir: join(dataDir, 'temporal-cluster', 'postgres'),
        dbPort: temporalDbPort,
        ports: clusterPorts,
        namespace: config.temporal.namespace,
        codecEndpoint: `${config.api.publicUrl}/codec`,
        say,
      });
      temporalDb = cluster.db;
      temporalAddress = cluster.address;
    } else if (config.stack.embedTemporal) {
      await assertPortFree(config.stack.temporalPort, 'Temporal', 'TEMPORAL_PORT');
      await assertPortFree(config.temporal.uiPort, 'Temporal Web UI', 'TEMPORAL_UI_PORT');
      say(`starting the Temporal dev server (${toolchain.temporalCli})...`);
      const temporal = devServerChild({
        binary: toolchain.temporalCli,
        port: config.stack.temporalPort,
        uiPort: config.temporal.uiPort,
        dbFile: join(dataDir, 'temporal.db'),
        namespace: config.temporal.namespace,
        // The Web UI reads encrypted payloads through our API's codec server (after /codec/login).
        codecEndpoint: `${config.api.publicUrl}/codec`,
      });
      await supervisor.start({
        ...temporal,
        // Its shutdown chatter (pollers failing as it stops) is noise; everything before that is shown.
        spawn: (ctx) => temporal.spawn({ ...ctx, output: (line) => !shuttingDown && ctx.output(line) }),
      });
      temporalAddress = `127.0.0.1:${config.stack.temporalPort}`;
    }

    let databaseUrl = config.database.url;
    let embeddedDataDir = '';
    if (config.stack.embedDatabase) {
      await assertPortFree(config.database.embeddedPort, 'embedded PostgreSQL', 'EMBEDDED_DB_PORT');
      say('starting the embedded PostgreSQL...');
      await supervisor.start(
        embeddedDbChild({ dataDir: join(dataDir, 'postgres'), port: config.database.embeddedPort }, (db) => {
          databaseUrl = db.url;
          embeddedDataDir = db.dataDir;
        }),
      );
    }

    const db = createDb({ url: databaseUrl!, poolMax: 1, applicationName: 'payments-start' });
    try {
      const applied = await migrateLatest(db);
      say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database schema is up to date');
    } finally {
      await db.destroy();
    }

    const env = { ...process.env, TEMPORAL_ADDRESS: temporalAddress, DATABASE_URL: databaseUrl };
    if (dev.localstripe) {
      say('starting localstripe (the Stripe channel on its double)...');
      await supervisor.start(
        localstripeChild({ ...dev.localstripe, webhookUrl: `${config.api.publicUrl}/callbacks/stripe` }),
      );
    }
    await supervisor.start(tsxService({ name: 'sandbox', entry: join(projectRoot, 'sandbox', 'main.ts'), env }));
    // Dev: one worker, one API. Cluster: two of each, the balancer on API_PORT in front of the APIs (API_PORT + 1
    // and + 2), the second worker's metrics on the first's ports + 2.
    const replicaPorts =
      engine === 'cluster'
        ? {
            apis: [config.api.port + 1, config.api.port + 2],
            workers: [0, 2].map((d) => ({
              metrics: config.workerMetrics.port + d,
              sdkMetrics: config.workerMetrics.sdkPort + d,
            })),
          }
        : {
            apis: [config.api.port],
            workers: [{ metrics: config.workerMetrics.port, sdkMetrics: config.workerMetrics.sdkPort }],
          };
    if (engine === 'cluster') {
      for (const port of replicaPorts.apis)
        await assertPortFree(port, 'an API replica (API_PORT + 1, + 2)', 'API_PORT');
    }
    const replicas = await startReplicas(
      supervisor,
      env,
      replicaPorts,
      engine === 'cluster' ? { port: config.api.port } : undefined,
    );

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
    const pids = Object.entries(supervisor.snapshot())
      .map(([name, p]) => `${name} ${p.pid}`)
      .join(', ');
    const ports = (list: number[]) => list.map((p) => `:${p}`).join(', ');
    const svc = clusterPorts.services;
    const lines = [
      '',
      `Payment orchestration is up (${((Date.now() - started) / 1000).toFixed(1)} s, engine ${engine}):`,
      `  API              ${apiUrl}  (health ${apiUrl}/healthz, readiness ${apiUrl}/readyz)`,
      replicas.balancer
        ? `                   the balancer, in front of ${replicas.apis.join(' and ')} on ${ports(replicaPorts.apis)} (its view: ${apiUrl}/balancer/health)`
        : '',
      replicas.workers.length > 1
        ? `  Workers          ${replicas.workers.join(', ')} on one task queue (metrics ${ports(replicaPorts.workers.map((w) => w.metrics))})`
        : '',
      config.api.adminApiKey === DEV_ADMIN_API_KEY
        ? `  Admin API key    ${DEV_ADMIN_API_KEY}  (development key, X-Api-Key; npm run payments uses it)`
        : `  Admin API key    from ADMIN_API_KEY  (X-Api-Key; npm run payments uses it)`,
      config.stack.embedTemporal
        ? `  Temporal Web UI  http://localhost:${config.temporal.uiPort}  (workflows, timers, search attributes)`
        : `  Temporal         ${temporalAddress} (external; open your cluster's Web UI)`,
      engine === 'cluster'
        ? `  Temporal cluster frontend :${svc.frontend.grpc}, history :${svc.history.grpc}, matching :${svc.matching.grpc}, worker :${svc.worker.grpc} (metrics: ${Object.entries(
            svc,
          )
            .map(([name, p]) => `${name} :${p.metrics}`)
            .join(', ')})`
        : '',
      temporalDb
        ? `  Temporal's DB    PostgreSQL on 127.0.0.1:${temporalDbPort}, databases temporal and temporal_visibility (SQL visibility; data in ${shown(temporalDb.dataDir)})`
        : '',
      `  Temporal         ${temporalAddress}  namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}`,
      `  Channels         ${Object.entries(config.channels)
        .filter(([, c]) => c)
        .map(([name]) => name)
        .join(', ')}  (dev keys in ${shown(join(dataDir, 'keys'))})`,
      `  SandboxPay       ${config.sandbox.sandboxpay.url}  (simulated wallet channel; faults: GET/PUT /admin/faults)`,
      config.sandbox.wechatpay
        ? `  WeChat Pay       ${config.sandbox.wechatpay.publicUrl}  (API v3 emulator, mchid ${config.channels.wechatpay?.mchId ?? '?'}; faults: /admin/faults)`
        : '',
      config.sandbox.alipay
        ? `  Alipay           ${config.sandbox.alipay.publicUrl}  (OpenAPI v2 gateway emulator at /gateway.do, app ${config.sandbox.alipay.appId}; faults: /admin/faults)`
        : '',
      dev.localstripe
        ? `  Stripe           http://127.0.0.1:${dev.localstripe.port}  (localstripe; test checkout ${config.sandbox.sandboxpay.url}/stripe/checkout/{pi})`
        : '',
      `  Order service    ${config.orders.url}/orders  (the shop's orders we keep in sync)`,
      `  Demo shop        ${config.orders.url}/shop  (buy something, pay in the wallet, watch the order turn Paid)`,
      `  PostgreSQL       ${shownDb}${config.stack.embedDatabase ? `  (embedded, data in ${shown(embeddedDataDir)})` : ''}`,
      config.stack.embedTemporal && engine === 'dev'
        ? `  Temporal data    ${shown(join(dataDir, 'temporal.db'))} (kept between runs)`
        : '',
      readable
        ? '  Logs             one line of text per event (JSON lines when piped, or with NODE_ENV=production)'
        : '  Logs             JSON lines (one line of text per event on a terminal, unless NODE_ENV=production)',
      `  Processes        ${pids}`,
      `                   (restarted if one dies; pids in ${shown(stateFile)})`,
      '',
      'Press Ctrl-C to stop everything.',
      '',
    ];
    // A line left empty by an option that is off is dropped; the blank lines around the block stay.
    process.stdout.write(lines.filter((l, i, all) => l !== '' || i === 0 || i >= all.length - 3).join('\n') + '\n');
  } catch (err) {
    process.stderr.write(`[start] ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown('start-up failed', 1);
  }
}

void main();
