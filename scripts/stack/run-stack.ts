// A whole stack of its own for a measured run (chaos, benchmark): a temporary directory, free ports, a prebuilt
// workflow bundle, the Temporal engine, the embedded PostgreSQL, migrations, and the sandbox, worker(s) and API(s);
// all of them supervised processes (restarted if they die) whose output goes to log files. Stops and removes
// everything after. Two engines: `dev`, the Temporal dev server on a SQLite file (one worker, one API by default),
// and `cluster`, the production topology (scripts/stack/cluster-engine.ts: Temporal's four services on a PostgreSQL of
// their own, two workers, two API replicas behind the balancer by default).
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import pino from 'pino';
import { type ChaosChannel, stripeChannel, walletChannel } from '../chaos/channels';
import { type StripeFaultProxy, type StripeProxyFaults, startStripeFaultProxy } from '../../sandbox/stripe/fault-proxy';
import { devChannels, localstripeChild } from './channels';
import { freePort, waitFor } from './net';
import { orderNotifyDevKeys } from './order-notify-keys';
import { ensureDevPayloadKey } from '../../codec/keys';
import { dataConverterFor } from '../../codec/data-converter';
import type { DataConverter } from '@temporalio/common';
import { loadConfig } from '../../config';
import { type EmbeddedDb, embeddedDbChild } from './embedded-postgres';
import { createDb, migrateLatest } from '../../db/knex';
import { buildWorkflowBundle } from '../build-workflows';
import { devServerChild } from './temporal-dev-server';
import { Supervisor, tsxService } from './supervisor';
import { projectRoot, readToolchain } from './toolchain';
import {
  type Engine,
  ensureClusterToolchain,
  startClusterEngine,
  startReplicas,
  TEMPORAL_DB_PROCESS,
} from './cluster-engine';
import { CLUSTER_SERVICES, freeClusterPorts, processName } from './temporal-cluster';

export interface RunStackOptions {
  /** Prefix of the temporary directory, e.g. payments-chaos. */
  name: string;
  taskQueue: string;
  /** Extra environment for the services (schedules, faults...). */
  env: Record<string, string>;
  say: (msg: string) => void;
  restartDelayMs?: number;
  /** Stripe's faults (localstripe has none: a fault proxy on both of its sides plays them); none: no proxy. */
  stripeFaults?: Partial<StripeProxyFaults>;
  /** Seeds the Stripe fault proxy's decisions. */
  seed?: string;
  /** The Temporal engine; default dev. */
  engine?: Engine;
  /** Worker processes; default 1 on dev, 2 on the cluster. */
  workers?: number;
  /** API replicas; default 1 on dev, 2 on the cluster. More than one: the balancer fronts them at urls.api. */
  apis?: number;
}

export interface RunStack {
  dir: string;
  engine: Engine;
  /** urls.api is the balancer when there are several API replicas; workerMetrics is the first worker's. */
  urls: {
    api: string;
    sandbox: string;
    orders: string;
    workerMetrics: string;
    sdkMetrics: string;
    /** Each API replica directly (its /metrics). */
    apis: string[];
    /** Each worker's metrics. */
    workersMetrics: string[];
  };
  /** The supervised names of our services (to kill one in a chaos run, to read its CPU in a benchmark). */
  services: { workers: string[]; apis: string[]; balancer?: string };
  /** The supervised names of the Temporal engine's processes (dev: temporal; cluster: its services, its database). */
  temporalProcesses: string[];
  /** Every channel the stack runs, with its double: how a buyer acts there and what it records. */
  channels: Record<string, ChaosChannel>;
  /** The frontend; `process` is the current one (the dev server, or the cluster's frontend service). */
  temporal: { address: string; readonly process: ChildProcess };
  /** The embedded PostgreSQL; `process` is the current postmaster. */
  db: { url: string; dataDir: string; readonly process: ChildProcess };
  /** The services' codec: a client of the run's own (chaos, bench) reads and writes payloads with it. */
  dataConverter: DataConverter | undefined;
  /** A connection pool for the run's own reads (audits, counts). */
  knex: Knex;
  supervisor: Supervisor;
  /** Stops the Temporal dev server (cluster: its frontend) and starts it again on the same data and port. */
  restartTemporal(downMs: number): Promise<void>;
  stop(keep?: boolean): Promise<void>;
}

export async function startRunStack(options: RunStackOptions): Promise<RunStack> {
  const engine = options.engine ?? 'dev';
  const toolchain = engine === 'cluster' ? ensureClusterToolchain(options.say) : readToolchain();
  const workerCount = options.workers ?? (engine === 'cluster' ? 2 : 1);
  const apiCount = options.apis ?? (engine === 'cluster' ? 2 : 1);
  const dir = mkdtempSync(join(tmpdir(), `${options.name}-`));
  chmodSync(dir, 0o755); // as root, PostgreSQL runs as the postgres user, who must reach its data dir
  mkdirSync(join(dir, 'logs'));
  const ports = {
    temporal: await freePort(),
    api: await freePort(),
    sandbox: await freePort(),
    orders: await freePort(),
    db: await freePort(),
    workerMetrics: await freePort(),
    sdkMetrics: await freePort(),
    wechatpay: await freePort(),
    alipay: await freePort(),
    localstripe: await freePort(),
    temporalDb: await freePort(),
  };
  const apiPorts = apiCount > 1 ? await Promise.all(Array.from({ length: apiCount }, () => freePort())) : [ports.api];
  const workerPorts = [{ metrics: ports.workerMetrics, sdkMetrics: ports.sdkMetrics }];
  for (let i = 1; i < workerCount; i++) workerPorts.push({ metrics: await freePort(), sdkMetrics: await freePort() });
  const bundle = await buildWorkflowBundle(join(dir, 'workflows.js'));
  const supervisor = new Supervisor(options.say, {
    logDir: join(dir, 'logs'),
    restartDelayMs: options.restartDelayMs ?? 1000,
  });
  const current = (name: string) => {
    const child = supervisor.process(name);
    if (!child) throw new Error(`${name} is not running`);
    return child;
  };
  let temporalAddress = `127.0.0.1:${ports.temporal}`;
  let frontendProcess = 'temporal';
  let temporalProcesses = ['temporal'];
  if (engine === 'cluster') {
    const cluster = await startClusterEngine(supervisor, {
      toolchain,
      dataDir: join(dir, 'temporal-pg'),
      dbPort: ports.temporalDb,
      ports: await freeClusterPorts({ ui: false }),
      say: options.say,
    });
    temporalAddress = cluster.address;
    frontendProcess = processName('frontend');
    temporalProcesses = [TEMPORAL_DB_PROCESS, ...CLUSTER_SERVICES.map(processName)];
  } else {
    await supervisor.start(
      devServerChild({ binary: toolchain.temporalCli, port: ports.temporal, dbFile: join(dir, 'temporal.db') }),
    );
  }
  const temporal = {
    address: temporalAddress,
    get process() {
      return current(frontendProcess);
    },
  };
  let started: EmbeddedDb | undefined;
  await supervisor.start(embeddedDbChild({ dataDir: join(dir, 'pg'), port: ports.db }, (db) => (started = db)));
  const db = {
    url: started!.url,
    dataDir: started!.dataDir,
    get process() {
      return current('postgres');
    },
  };
  const knex = createDb({ url: db.url, poolMax: 4, applicationName: `${options.name}-reader` });
  await migrateLatest(knex);
  options.say(`${engine === 'cluster' ? 'Temporal cluster' : 'Temporal dev server'} and PostgreSQL up in ${dir}`);

  const urls = {
    api: `http://127.0.0.1:${ports.api}`,
    sandbox: `http://127.0.0.1:${ports.sandbox}`,
    orders: `http://127.0.0.1:${ports.orders}`,
    workerMetrics: `http://127.0.0.1:${ports.workerMetrics}/metrics`,
    sdkMetrics: `http://127.0.0.1:${ports.sdkMetrics}/metrics`,
    apis: apiPorts.map((p) => `http://127.0.0.1:${p}`),
    workersMetrics: workerPorts.map((w) => `http://127.0.0.1:${w.metrics}/metrics`),
  };
  // The real channels on their doubles, with keys of the run's own: WeChat Pay's emulator (in the sandbox process) and
  // localstripe (behind the fault proxy when Stripe faults are asked for).
  const dev = devChannels({
    keysDir: join(dir, 'keys'),
    env: {},
    ports: { wechatpay: ports.wechatpay, alipay: ports.alipay, localstripe: ports.localstripe },
    checkoutUrl: urls.sandbox,
    localstripePython: toolchain.localstripe,
  });
  let stripeProxy: StripeFaultProxy | undefined;
  const localstripeUrl = `http://127.0.0.1:${ports.localstripe}`;
  if (dev.localstripe) {
    let webhookUrl = `${urls.api}/callbacks/stripe`;
    if (options.stripeFaults) {
      stripeProxy = await startStripeFaultProxy({
        upstream: localstripeUrl,
        webhookTarget: webhookUrl,
        seed: options.seed ?? options.name,
        faults: options.stripeFaults,
        logger: pino({ level: 'silent' }),
      });
      webhookUrl = stripeProxy.webhookUrl;
      dev.env.STRIPE_API_URL = stripeProxy.apiUrl;
    }
    await supervisor.start(localstripeChild({ ...dev.localstripe, webhookUrl }));
  }
  const payloadKeyEnv = ensureDevPayloadKey(dir, {});
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...dev.env,
    LOG_LEVEL: 'warn',
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    DATABASE_URL: db.url,
    API_PORT: String(ports.api),
    API_PUBLIC_URL: urls.api,
    SANDBOX_PORT: String(ports.sandbox),
    SANDBOXPAY_URL: urls.sandbox,
    ORDER_SERVICE_PORT: String(ports.orders),
    ORDER_SERVICE_URL: urls.orders,
    WORKFLOW_BUNDLE_PATH: bundle,
    WORKER_METRICS_PORT: String(ports.workerMetrics),
    TEMPORAL_SDK_METRICS_PORT: String(ports.sdkMetrics),
    // The run's own key for the worker's order notifications (the sandbox's order service holds the same).
    ...orderNotifyDevKeys(join(dir, 'keys'), {}),
    // And a payload encryption key of its own: the run's histories are encrypted, as production's are.
    ...payloadKeyEnv,
    ...options.env,
  };
  // Only the run's key (the caller's shell may have keys of its own: both a key list and a key file is an error).
  if (!options.env.PAYLOAD_ENCRYPTION_KEYS) delete env.PAYLOAD_ENCRYPTION_KEYS;
  const service = (name: string, extra: Record<string, string> = {}) =>
    tsxService({ name, entry: join(projectRoot, name, 'main.ts'), env: { ...env, ...extra } });
  // The sandbox serves Stripe's test checkout: the buyer's page talks to Stripe (localstripe) directly, not through
  // the fault proxy, whose faults are the channel's answers to our adapter.
  await supervisor.start(service('sandbox', dev.localstripe ? { STRIPE_API_URL: localstripeUrl } : {}));
  const services = await startReplicas(
    supervisor,
    env,
    { apis: apiPorts, workers: workerPorts },
    apiCount > 1 ? { port: ports.api } : undefined,
  );
  await waitFor(
    'the API',
    async () => {
      const res = await fetch(`${urls.api}/readyz`);
      if (res.status !== 200) throw new Error(`readyz ${res.status}`);
    },
    120_000,
    500,
  );

  const channels: Record<string, ChaosChannel> = { sandboxpay: walletChannel('sandboxpay', urls.sandbox) };
  if (dev.enabled.includes('wechatpay'))
    channels.wechatpay = walletChannel('wechatpay', `http://127.0.0.1:${ports.wechatpay}`);
  if (dev.enabled.includes('alipay')) channels.alipay = walletChannel('alipay', `http://127.0.0.1:${ports.alipay}`);
  if (dev.localstripe) channels.stripe = stripeChannel(localstripeUrl, dev.env.STRIPE_SECRET_KEY!);

  const stack: RunStack = {
    dir,
    engine,
    dataConverter: dataConverterFor(loadConfig(payloadKeyEnv)),
    urls,
    services,
    temporalProcesses,
    channels,
    temporal,
    db,
    knex,
    supervisor,
    async restartTemporal(downMs) {
      await supervisor.restart(frontendProcess, downMs, 10_000);
    },
    async stop(keep = false) {
      await knex.destroy().catch(() => undefined);
      // The services first, then PostgreSQL, then Temporal (reverse start order).
      await supervisor.stopAll(10_000);
      await stripeProxy?.stop();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
