// The cluster engine profile, shared by `npm start -- --engine cluster` and the measured runs (chaos, bench): a
// PostgreSQL of its own for Temporal's persistence and visibility (so restarting it hurts Temporal, not our payments
// table), the Temporal cluster on it (scripts/stack/temporal-cluster.ts: four server services and the Web UI server),
// and our services the way production runs them: several workers on one task queue and several API replicas behind
// a load balancer (scripts/stack/balancer.ts), each a supervised process.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type EmbeddedDb, embeddedDbChild } from './embedded-postgres';
import type { Supervisor } from './supervisor';
import { tsxService } from './supervisor';
import {
  CLUSTER_SERVICES,
  type ClusterPorts,
  type ClusterService,
  clusterBinaries,
  startTemporalCluster,
  type TemporalCluster,
} from './temporal-cluster';
import { projectRoot, readToolchain, type Toolchain } from './toolchain';

export type Engine = 'dev' | 'cluster';
export const ENGINES: readonly Engine[] = ['dev', 'cluster'];

/** The supervised name of Temporal's own PostgreSQL. */
export const TEMPORAL_DB_PROCESS = 'temporal-postgres';

/**
 * Fixed ports for `npm start`'s cluster, laid out like Temporal's own defaults around the frontend's port (7233:
 * history +1, matching +2, worker +6; membership 300 below each; the frontend's HTTP API +10) and metrics 1800 above
 * each. Fixed on purpose: a service restarted on other ports leaves a stale member in the ring that the others keep
 * trying (a 60 s start instead of 15 s), and a membership port must be below 32768 (stored as a smallint).
 */
export function fixedClusterPorts(frontendPort: number, uiPort: number): ClusterPorts {
  const offset: Record<ClusterService, number> = { frontend: 0, history: 1, matching: 2, worker: 6 };
  const services = Object.fromEntries(
    CLUSTER_SERVICES.map((s) => [
      s,
      {
        grpc: frontendPort + offset[s],
        membership: frontendPort - 300 + offset[s],
        metrics: frontendPort + 1800 + offset[s],
      },
    ]),
  ) as ClusterPorts['services'];
  return { services, frontendHttp: frontendPort + 10, ui: uiPort };
}

/** Every port of a cluster layout (to check they are free before starting). */
export function clusterPortList(ports: ClusterPorts): { port: number; what: string }[] {
  return [
    ...CLUSTER_SERVICES.flatMap((s) => [
      { port: ports.services[s].grpc, what: `Temporal ${s} gRPC` },
      { port: ports.services[s].membership, what: `Temporal ${s} membership` },
      { port: ports.services[s].metrics, what: `Temporal ${s} metrics` },
    ]),
    { port: ports.frontendHttp, what: 'Temporal frontend HTTP' },
    ...(ports.ui ? [{ port: ports.ui, what: 'Temporal Web UI' }] : []),
  ];
}

/**
 * The cluster's binaries, built first when missing (`node scripts/bootstrap.mjs cluster`, which says what it builds
 * and how long it took: 5 to 10 minutes the first time on 2 cores, a fraction of a second after).
 */
export function ensureClusterToolchain(say: (msg: string) => void): Toolchain {
  let toolchain = readToolchain();
  if (!toolchain.temporalServer || !toolchain.temporalSqlTool || !toolchain.temporalSchema) {
    say('the cluster profile needs Temporal server binaries: building them once (node scripts/bootstrap.mjs cluster)');
    const r = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'bootstrap.mjs'), 'cluster'], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('building the Temporal cluster binaries failed (see above)');
    toolchain = readToolchain();
  }
  return toolchain;
}

export interface ClusterEngineOptions {
  toolchain: Toolchain;
  /** Temporal's PostgreSQL data directory (kept between runs by npm start). */
  dataDir: string;
  /** Temporal's PostgreSQL port. */
  dbPort: number;
  ports: ClusterPorts;
  namespace?: string;
  retention?: string;
  logLevel?: string;
  /** The codec server the Web UI decodes payloads through. */
  codecEndpoint?: string;
  say: (msg: string) => void;
}

export interface ClusterEngine extends TemporalCluster {
  /** Temporal's own PostgreSQL (its `postgres` database; `temporal` and `temporal_visibility` beside it). */
  db: { url: string; dataDir: string };
}

/** Temporal's PostgreSQL, then the cluster on it, all under `supervisor` (stopAll stops them in reverse order). */
export async function startClusterEngine(
  supervisor: Supervisor,
  options: ClusterEngineOptions,
): Promise<ClusterEngine> {
  let started: EmbeddedDb | undefined;
  // Made first: where the postgres user cannot reach it, the data would go to /var/tmp instead (embeddedDataDir).
  mkdirSync(dirname(options.dataDir), { recursive: true });
  options.say("starting Temporal's PostgreSQL (persistence and visibility)...");
  await supervisor.start(
    embeddedDbChild({ dataDir: options.dataDir, port: options.dbPort }, (db) => (started = db), TEMPORAL_DB_PROCESS),
  );
  const cluster = await startTemporalCluster(supervisor, {
    binaries: clusterBinaries(options.toolchain),
    databaseUrl: started!.url,
    ports: options.ports,
    namespace: options.namespace,
    retention: options.retention,
    logLevel: options.logLevel,
    codecEndpoint: options.codecEndpoint,
    say: options.say,
  });
  return { ...cluster, db: { url: started!.url, dataDir: started!.dataDir } };
}

export interface ReplicaPorts {
  /** One per API replica. */
  apis: number[];
  /** One pair per worker: our metrics and the SDK's. */
  workers: { metrics: number; sdkMetrics: number }[];
}

/**
 * Our services as replicas: `worker-1..n` on one task queue (Temporal hands each task to whichever polls first) and
 * `api-1..m`, each on its own port, then the balancer on `balancerPort` in front of the APIs. Started in that order
 * under `supervisor`. With one of each and no balancer port, the names are plain `worker` and `api`.
 */
export async function startReplicas(
  supervisor: Supervisor,
  env: NodeJS.ProcessEnv,
  ports: ReplicaPorts,
  balancer?: { port: number },
): Promise<{ workers: string[]; apis: string[]; balancer?: string }> {
  const named = (base: string, i: number, n: number) => (n === 1 && !balancer ? base : `${base}-${i + 1}`);
  const workers: string[] = [];
  for (const [i, w] of ports.workers.entries()) {
    const name = named('worker', i, ports.workers.length);
    await supervisor.start(
      tsxService({
        name,
        entry: join(projectRoot, 'worker', 'main.ts'),
        env: { ...env, WORKER_METRICS_PORT: String(w.metrics), TEMPORAL_SDK_METRICS_PORT: String(w.sdkMetrics) },
      }),
    );
    workers.push(name);
  }
  const apis: string[] = [];
  for (const [i, port] of ports.apis.entries()) {
    const name = named('api', i, ports.apis.length);
    await supervisor.start(
      tsxService({
        name,
        entry: join(projectRoot, 'api', 'main.ts'),
        // A replica's own port is not where clients reach it: its public URL (callbacks, /openapi.json) is the
        // balancer's.
        env: {
          ...env,
          API_PORT: String(port),
          ...(balancer ? { API_PUBLIC_URL: env.API_PUBLIC_URL ?? `http://localhost:${balancer.port}` } : {}),
        },
      }),
    );
    apis.push(name);
  }
  if (!balancer) return { workers, apis };
  await supervisor.start(
    tsxService({
      name: 'balancer',
      entry: join(projectRoot, 'scripts', 'stack', 'balancer-main.ts'),
      env: {
        PATH: env.PATH,
        LOG_LEVEL: env.LOG_LEVEL,
        BALANCER_PORT: String(balancer.port),
        BALANCER_UPSTREAMS: ports.apis.map((p) => `http://127.0.0.1:${p}`).join(','),
      },
    }),
  );
  return { workers, apis, balancer: 'balancer' };
}
