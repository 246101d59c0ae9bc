// Runs a PostgreSQL server process from a directory of server binaries: the embedded one `npm start` uses (binaries
// from npm) and the throwaway one the tests use (the machine's binaries). PostgreSQL refuses to run as root, so as
// root it runs as the `postgres` user, spawned with that uid directly so signals reach the server itself. That user
// must be able to reach the binaries and the data directory; when the project sits in a directory private to root
// (a clone under /root or a mktemp dir), the binaries are copied once to /var/tmp.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { waitFor } from './net';

export interface PostgresServerOptions {
  binDir: string;
  dataDir: string;
  port: number;
  /** Superuser password; omitted: trust authentication (for throwaway test servers). */
  password?: string;
  /** Extra `-c name=value` settings. */
  settings?: string[];
  onLog?: (line: string) => void;
  /** Own process group: a terminal's Ctrl-C reaches only whoever started it, who then stops it in order. */
  detached?: boolean;
  /** Called with the server process as soon as it is spawned, before it is ready (a supervisor tracks it). */
  onSpawn?: (child: ChildProcess) => void;
}

export interface PostgresServer {
  /** URL of the `postgres` database as the `postgres` superuser. */
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

interface UserIds {
  uid: number;
  gid: number;
}

export const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function lookupPostgresUser(): UserIds | undefined {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  if (uid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/** As root: the `postgres` user to run the server as (created, as a system user, when missing). */
export function postgresUser(): UserIds | undefined {
  if (!isRoot()) return undefined;
  let user = lookupPostgresUser();
  if (!user) {
    spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    user = lookupPostgresUser();
  }
  if (!user || user.uid === 0)
    throw new Error('running as root needs a `postgres` user to run PostgreSQL as (useradd failed)');
  return user;
}

/** Can the postgres user reach (traverse to and read/execute) this path? */
export function reachableBy(user: UserIds | undefined, path: string): boolean {
  if (!user) return true;
  const probe = spawnSync('test', ['-r', path], { uid: user.uid, gid: user.gid });
  return probe.status === 0;
}

/** The binaries, or a copy of their installation the postgres user can reach (made once per source path). */
function reachableBinDir(binDir: string, user: UserIds | undefined): string {
  if (reachableBy(user, join(binDir, 'postgres'))) return binDir;
  const installRoot = dirname(binDir); // bin/, lib/, share/ side by side
  const copy = join(
    '/var/tmp',
    `payments-postgres-${createHash('sha256').update(installRoot).digest('hex').slice(0, 12)}`,
  );
  if (!existsSync(join(copy, 'bin', 'postgres'))) {
    const staging = `${copy}.tmp-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(installRoot, staging, { recursive: true, verbatimSymlinks: true });
    spawnSync('chmod', ['-R', 'a+rX', staging]);
    rmSync(copy, { recursive: true, force: true });
    renameSync(staging, copy);
  }
  chmodSync(copy, 0o755);
  return join(copy, 'bin');
}

export async function startPostgresServer(options: PostgresServerOptions): Promise<PostgresServer> {
  const user = postgresUser();
  const binDir = reachableBinDir(options.binDir, user);
  const log = options.onLog ?? (() => undefined);
  const { dataDir, port } = options;

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dirname(dataDir), { recursive: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (user) chownSync(dataDir, user.uid, user.gid);
    if (!reachableBy(user, dataDir)) {
      throw new Error(`the postgres user cannot reach ${dataDir}: a parent directory is private to root`);
    }
    const args = ['-D', dataDir, '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--locale=C'];
    let pwFile: string | undefined;
    if (options.password) {
      pwFile = join(tmpdir(), `payments-pg-pw-${process.pid}-${Date.now()}`);
      writeFileSync(pwFile, `${options.password}\n`, { mode: 0o600 });
      if (user) chownSync(pwFile, user.uid, user.gid);
      args.push('--auth=scram-sha-256', `--pwfile=${pwFile}`);
    } else {
      args.push('--auth=trust');
    }
    const init = spawnSync(join(binDir, 'initdb'), args, { encoding: 'utf8', ...user });
    if (pwFile) rmSync(pwFile, { force: true });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || init.error?.message}`);
    log(`initialised a new PostgreSQL data directory in ${dataDir}`);
  }

  const settings = ['listen_addresses=127.0.0.1', `unix_socket_directories=`, ...(options.settings ?? [])];
  const args = ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])];
  const child = spawn(join(binDir, 'postgres'), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: options.detached ?? false,
    ...user,
  });
  options.onSpawn?.(child);
  let recent = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    recent = (recent + text).slice(-4000);
    for (const line of text.split('\n').filter(Boolean)) log(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => log(`could not start postgres: ${err.message}`));

  const auth = options.password ? `postgres:${encodeURIComponent(options.password)}@` : 'postgres@';
  const url = `postgres://${auth}127.0.0.1:${port}/postgres`;
  await waitFor(`PostgreSQL on port ${port}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw Object.assign(new Error(`postgres exited: ${recent.trim().split('\n').slice(-5).join(' | ')}`), {
        fatal: true,
      });
    }
    const client = new pg.Client(url);
    try {
      await client.connect();
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  return {
    url,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT'); // PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
