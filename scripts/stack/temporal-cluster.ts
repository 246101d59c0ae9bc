// A real Temporal cluster on PostgreSQL, the way production runs one: the server's four services (frontend, history,
// matching, worker) each a process of its own from one binary and one configuration file (deploy/temporal/
// server.yaml, which docker-compose.yml uses too), advanced visibility on PostgreSQL with our custom search
// attributes, and the Web UI server pointed at the frontend. Every process is a Supervisor's child: one that dies
// (a SIGKILLed history service) is started again with the same ports and rejoins the cluster.
//
// The binaries come from `node scripts/bootstrap.mjs cluster` (.data/toolchain.json). The databases `temporal` and
// `temporal_visibility` are created and brought to the server's schema version with its own SQL tool, idempotently:
// a second start on the same PostgreSQL finds them up to date.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { grpc, temporal } from '@temporalio/proto';
import pg from 'pg';
import { allSearchAttributeKeys } from '../../workflows/definitions';
import { freePort, waitFor } from './net';
import { startReadyChild } from './ready-child';
import type { ChildSpec, SpawnContext, Supervisor } from './supervisor';
import { projectRoot, type Toolchain } from './toolchain';

/** The server's configuration template: rendered by the server itself from the environment each process gets. */
export const SERVER_CONFIG = join(projectRoot, 'deploy', 'temporal', 'server.yaml');
/** The Web UI server's config directory (its base.yaml is a template of the same kind), relative to the root. */
export const UI_CONFIG_DIR = join('deploy', 'temporal', 'ui');

/** The services, in the order they start: history owns the shards, the frontend serves once the ring has formed. */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

/** The supervised process of a service. */
export const processName = (service: ClusterService) => `temporal-${service}`;
export const UI_PROCESS = 'temporal-ui';

/** What grpc.health.v1 calls each service (it turns SERVING once that service is ready). */
const HEALTH_SERVICE: Record<ClusterService, string> = {
  frontend: 'temporal.api.workflowservice.v1.WorkflowService',
  history: 'temporal.api.workflowservice.v1.HistoryService',
  matching: 'temporal.api.workflowservice.v1.MatchingService',
  worker: 'temporal.api.workflowservice.v1.WorkerService',
};

export interface ServicePorts {
  grpc: number;
  membership: number;
  /** Prometheus metrics (GET /metrics), one endpoint per process. */
  metrics: number;
}

export interface ClusterPorts {
  services: Record<ClusterService, ServicePorts>;
  /** The frontend's HTTP API (Nexus, the HTTP gateway). */
  frontendHttp: number;
  /** The Web UI; omitted: no UI server. */
  ui?: number;
}

export interface ClusterBinaries {
  server: string;
  sqlTool: string;
  uiServer: string | null;
  schema: { temporal: string; visibility: string };
  /** The Temporal CLI (namespace and search attributes). */
  cli: string;
}

export interface TemporalClusterOptions {
  binaries: ClusterBinaries;
  /** A PostgreSQL URL whose user may create databases (its database part is ignored). */
  databaseUrl: string;
  ports: ClusterPorts;
  namespace?: string;
  /** How long closed workflows stay visible (the namespace's retention), e.g. 72h. */
  retention?: string;
  /** Fixed at the cluster's first start (see deploy/temporal/server.yaml). */
  numHistoryShards?: number;
  /** The server's log level (its lines go to the supervisor's output); default warn. */
  logLevel?: string;
  /** The codec server the Web UI decodes payloads through (our API's /codec), credentials included; omitted: none. */
  codecEndpoint?: string;
  /** Progress lines ("temporal databases up to date", ...). */
  say?: (msg: string) => void;
}

export interface TemporalCluster {
  /** The frontend, for clients and workers. */
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  /** The Supervisor's names of the processes, in start order. */
  processes: string[];
}

/** The cluster's binaries from the toolchain file, or an error that says how to get them. */
export function clusterBinaries(toolchain: Toolchain): ClusterBinaries {
  const { temporalServer, temporalSqlTool, temporalUiServer, temporalSchema } = toolchain;
  if (!temporalServer || !temporalSqlTool || !temporalSchema) {
    throw new Error('the Temporal cluster binaries are not built: run `node scripts/bootstrap.mjs cluster` first');
  }
  return {
    server: temporalServer,
    sqlTool: temporalSqlTool,
    uiServer: temporalUiServer ?? null,
    schema: temporalSchema,
    cli: toolchain.temporalCli,
  };
}

/** A free port for every listener of the cluster (tests, and a second cluster beside `npm start`'s). */
export async function freeClusterPorts({ ui = true } = {}): Promise<ClusterPorts> {
  const services = {} as Record<ClusterService, ServicePorts>;
  for (const service of CLUSTER_SERVICES) {
    services[service] = {
      grpc: await freePort(),
      membership: await freePort() /* below 32768: stored as a smallint */,
      metrics: await freePort(),
    };
  }
  return { services, frontendHttp: await freePort(), ...(ui ? { ui: await freePort() } : {}) };
}

interface DbTarget {
  host: string;
  port: string;
  user: string;
  password: string;
}

function dbTarget(databaseUrl: string): DbTarget {
  const u = new URL(databaseUrl);
  return {
    host: u.hostname,
    port: u.port || '5432',
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

/** The environment the server's template reads (variable names of its own embedded template). */
export function serverEnv(options: TemporalClusterOptions, service: ClusterService): NodeJS.ProcessEnv {
  const db = dbTarget(options.databaseUrl);
  const { services, frontendHttp } = options.ports;
  const env: NodeJS.ProcessEnv = {
    // Nothing else from ours: our own variables (LOG_LEVEL, DB_PORT...) must not reach the template.
    PATH: process.env.PATH,
    LOG_LEVEL: options.logLevel ?? 'warn',
    NUM_HISTORY_SHARDS: String(options.numHistoryShards ?? 4),
    POSTGRES_SEEDS: db.host,
    DB_PORT: db.port,
    POSTGRES_USER: db.user,
    POSTGRES_PWD: db.password,
    BIND_ON_IP: '127.0.0.1',
    FRONTEND_HTTP_PORT: String(frontendHttp),
    PROMETHEUS_ENDPOINT: `127.0.0.1:${services[service].metrics}`,
  };
  for (const s of CLUSTER_SERVICES) {
    env[`${s.toUpperCase()}_GRPC_PORT`] = String(services[s].grpc);
    env[`${s.toUpperCase()}_MEMBERSHIP_PORT`] = String(services[s].membership);
  }
  return env;
}

/** Runs the server's SQL tool; resolves with its output, rejects with it. */
function runSqlTool(sqlTool: string, db: DbTarget, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(sqlTool, ['--plugin', 'postgres12', ...args], {
      // Connection settings through its environment variables: the password stays off the command line.
      env: {
        PATH: process.env.PATH,
        SQL_HOST: db.host,
        SQL_PORT: db.port,
        SQL_USER: db.user,
        SQL_PASSWORD: db.password,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`temporal-sql-tool ${args.join(' ')} failed (${code}): ${out}`)),
    );
  });
}

/**
 * The `temporal` and `temporal_visibility` databases, created when missing and brought to the server's schema
 * version (setup-schema -v 0.0 makes the version tables; update-schema applies what the versioned directory has
 * beyond the recorded version). Idempotent.
 */
export async function setupTemporalSchema(
  sqlTool: string,
  schema: ClusterBinaries['schema'],
  databaseUrl: string,
): Promise<{ created: string[] }> {
  const db = dbTarget(databaseUrl);
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const created: string[] = [];
  try {
    for (const [name, dir] of [
      ['temporal', schema.temporal],
      ['temporal_visibility', schema.visibility],
    ] as const) {
      const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
      if (rowCount === 0) {
        await runSqlTool(sqlTool, db, ['--db', name, 'create-database', '--defaultdb', 'postgres']);
        created.push(name);
      }
      await runSqlTool(sqlTool, db, ['--db', name, 'setup-schema', '-v', '0.0']);
      await runSqlTool(sqlTool, db, ['--db', name, 'update-schema', '-d', dir]);
    }
  } finally {
    await admin.end();
  }
  return { created };
}

/** grpc.health.v1 Check against one service's port: resolves once it answers SERVING. */
async function checkServing(port: number, service: string): Promise<void> {
  const connection = Connection.lazy({ address: `127.0.0.1:${port}`, connectTimeout: 1000 });
  try {
    const { status } = await connection.withDeadline(Date.now() + 2000, () =>
      connection.healthService.check({ service }),
    );
    if (status !== grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING) {
      throw new Error(`${service} answers ${String(status)}, not SERVING`);
    }
  } finally {
    await connection.close();
  }
}

/**
 * One of the server's services as a Supervisor's child: `temporal-server --config-file deploy/temporal/server.yaml
 * --allow-no-auth start --service <service>`, ready once its gRPC health check says SERVING (history: once it owns
 * its shards). Restarted the same way after a crash, on the same ports.
 */
export function temporalServiceChild(service: ClusterService, options: TemporalClusterOptions): ChildSpec {
  const port = options.ports.services[service].grpc;
  return {
    name: processName(service),
    spawn: async ({ output, spawned }: SpawnContext): Promise<ChildProcess> => {
      const started = await startReadyChild({
        what: `Temporal ${service} service on 127.0.0.1:${port}`,
        command: options.binaries.server,
        args: ['--config-file', SERVER_CONFIG, '--allow-no-auth', 'start', '--service', service],
        env: serverEnv(options, service),
        detached: true,
        onSpawn: spawned,
        onOutput: (line) => output(line),
        ready: () => checkServing(port, HEALTH_SERVICE[service]),
        // Joining the ring and acquiring shards takes seconds; after a SIGKILL the dead member's shards are taken
        // over once its membership lapses.
        timeoutMs: 120_000,
        everyMs: 500,
        stopGraceMs: 15_000,
      });
      return started.process;
    },
  };
}

/** What the UI server needs of the cluster's options: any frontend will do (a test points it at the dev server). */
export type UiServerOptions = Pick<TemporalClusterOptions, 'namespace' | 'codecEndpoint'> & {
  binaries: Pick<ClusterBinaries, 'uiServer'>;
  ports: { services: { frontend: { grpc: number } }; ui?: number };
};

/** The Web UI server as a Supervisor's child, pointed at the frontend; ready once it serves its page. */
export function uiServerChild(options: UiServerOptions): ChildSpec {
  const { uiServer } = options.binaries;
  const port = options.ports.ui;
  if (!uiServer || !port) throw new Error('no UI server binary or port');
  const url = `http://127.0.0.1:${port}`;
  return {
    name: UI_PROCESS,
    spawn: async ({ output, spawned }) => {
      const started = await startReadyChild({
        what: `Temporal Web UI on ${url}`,
        command: uiServer,
        args: ['--root', projectRoot, '--config', UI_CONFIG_DIR, '--env', 'cluster', 'start'],
        env: {
          PATH: process.env.PATH,
          TEMPORAL_ADDRESS: `127.0.0.1:${options.ports.services.frontend.grpc}`,
          TEMPORAL_UI_HOST: '127.0.0.1',
          TEMPORAL_UI_PORT: String(port),
          TEMPORAL_UI_PUBLIC_URL: `http://localhost:${port}`,
          TEMPORAL_DEFAULT_NAMESPACE: options.namespace ?? 'default',
          ...(options.codecEndpoint ? { TEMPORAL_CODEC_ENDPOINT: options.codecEndpoint } : {}),
        },
        detached: true,
        onSpawn: spawned,
        onOutput: (line) => output(line),
        ready: async () => {
          const res = await fetch(url);
          if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
        },
        timeoutMs: 60_000,
        stopGraceMs: 5_000,
      });
      return started.process;
    },
  };
}

/** Runs the Temporal CLI against the cluster's frontend; resolves with its stdout. */
function runCli(cli: string, address: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, [...args, '--address', address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`temporal ${args.join(' ')} failed (${code}): ${stderr}`)),
    );
  });
}

const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/**
 * The namespace (created with the Temporal CLI when missing) and our custom search attributes on it (those missing
 * are added through the operator API: on SQL visibility each becomes an alias of one of the schema's pre-allocated
 * columns, kept in the namespace's record). Resolves once the frontend accepts a list query on every one of them.
 */
export async function ensureNamespace(
  cli: string,
  address: string,
  namespace: string,
  retention: string,
): Promise<{ createdNamespace: boolean; createdAttributes: string[] }> {
  let createdNamespace = false;
  try {
    await runCli(cli, address, ['operator', 'namespace', 'describe', '--namespace', namespace]);
  } catch {
    await runCli(cli, address, ['operator', 'namespace', 'create', '--namespace', namespace, '--retention', retention]);
    createdNamespace = true;
  }
  const connection = await Connection.connect({ address });
  try {
    // A namespace just created reaches the frontend's namespace cache within its refresh interval (2 s by default).
    let existing: string[] = [];
    await waitFor(`namespace ${namespace} on ${address}`, async () => {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      existing = Object.keys(listed.customAttributes ?? {});
    });
    const missing = allSearchAttributeKeys.filter((k) => !existing.includes(k.name));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_TYPES[k.type]!])),
      });
    }
    // Every attribute answers a query at the frontend (each service's namespace cache catches up within seconds).
    const query = allSearchAttributeKeys
      .map((k) => (k.type === 'DATETIME' ? `${k.name} < '2000-01-01T00:00:00Z'` : `${k.name} = 'probe'`))
      .join(' AND ');
    await waitFor(
      `search attributes on ${namespace}`,
      () => connection.workflowService.countWorkflowExecutions({ namespace, query }),
      30_000,
      500,
    );
    return { createdNamespace, createdAttributes: missing.map((k) => k.name) };
  } finally {
    await connection.close();
  }
}

/**
 * The whole cluster under `supervisor`: schema, the four services, namespace and search attributes, then the UI
 * server (when it is built and has a port). stopAll() on the supervisor stops them in reverse order.
 */
export async function startTemporalCluster(
  supervisor: Supervisor,
  options: TemporalClusterOptions,
): Promise<TemporalCluster> {
  const say = options.say ?? (() => undefined);
  const namespace = options.namespace ?? 'default';
  const t0 = Date.now();
  const { created } = await setupTemporalSchema(options.binaries.sqlTool, options.binaries.schema, options.databaseUrl);
  say(
    created.length
      ? `Temporal databases created (${created.join(', ')}) and schema applied`
      : 'Temporal databases are up to date',
  );
  const processes: string[] = [];
  for (const service of CLUSTER_SERVICES) {
    await supervisor.start(temporalServiceChild(service, options));
    processes.push(processName(service));
  }
  const address = `127.0.0.1:${options.ports.services.frontend.grpc}`;
  const ns = await ensureNamespace(options.binaries.cli, address, namespace, options.retention ?? '72h');
  if (ns.createdNamespace) say(`namespace ${namespace} created`);
  if (ns.createdAttributes.length) say(`search attributes created: ${ns.createdAttributes.join(', ')}`);
  let uiUrl: string | undefined;
  if (options.binaries.uiServer && options.ports.ui) {
    await supervisor.start(uiServerChild(options));
    processes.push(UI_PROCESS);
    uiUrl = `http://localhost:${options.ports.ui}`;
  }
  say(`Temporal cluster ready on ${address} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { address, uiUrl, namespace, processes };
}
