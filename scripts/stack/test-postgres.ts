// A throwaway PostgreSQL server for the test run: free port, temp data dir, stopped and deleted at the end.
// Uses the server binaries bootstrap.mjs found (Debian's package here). PostgreSQL refuses to run as root, so as
// root it runs as the `postgres` user (spawned with that uid directly, so signals reach the server itself).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './ports';

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function postgresUser(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid === 0) throw new Error('running as root needs a `postgres` user to run PostgreSQL as');
  return { uid, gid };
}

export async function startTestPostgres(binDir: string): Promise<TestPostgres> {
  const base = mkdtempSync(join(tmpdir(), 'payments-test-pg-'));
  chmodSync(base, 0o755);
  const dataDir = join(base, 'data');
  const user = postgresUser();
  if (user) chownSync(base, user.uid, user.gid);
  const initArgs = ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'];
  const init = spawnSync(join(binDir, 'initdb'), initArgs, { encoding: 'utf8', ...user });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);

  const port = await freePort();
  // Durability settings off: this server lives for one test run.
  const settings = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=300', 'listen_addresses=127.0.0.1'];
  const args = ['-D', dataDir, '-p', String(port), '-k', base, ...settings.flatMap((s) => ['-c', s])];
  const child: ChildProcess = spawn(join(binDir, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], ...user });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor('test PostgreSQL', async () => {
    if (child.exitCode !== null) throw Object.assign(new Error(`postgres exited: ${stderr}`), { fatal: true });
    const client = new pg.Client(url);
    await client.connect();
    await client.end();
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        // SIGINT is PostgreSQL's fast shutdown.
        child.kill('SIGINT');
        await exited;
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
