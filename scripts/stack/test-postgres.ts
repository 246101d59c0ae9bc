// A throwaway PostgreSQL server for the test run: free port, temp data dir, stopped and deleted at the end.
// Uses the server binaries bootstrap.mjs found (Debian's package here).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net';
import { startPostgresServer } from './postgres-server';

export interface TestPostgres {
  url: string;
  /** The postmaster's pid (a test can check it is gone after stop()). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function startTestPostgres(binDir: string): Promise<TestPostgres> {
  const base = mkdtempSync(join(tmpdir(), 'payments-test-pg-'));
  chmodSync(base, 0o755); // as root, the server runs as the postgres user, who must reach the data dir
  const server = await startPostgresServer({
    binDir,
    dataDir: join(base, 'data'),
    port: await freePort(),
    // Durability off: this server lives for one test run.
    settings: ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=300'],
  });
  return {
    url: server.url,
    pid: server.process.pid,
    async stop() {
      await server.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
