// `npm start` without DATABASE_URL runs scripts/stack/embedded-postgres-main.ts; this drives the same entry point.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createDb, migrateLatest } from '../../db/knex';
import { migrationSource } from '../../db/migrations';
import { freePort } from '../../scripts/stack/net';

const root = join(__dirname, '..', '..');

function startEmbedded(dataDir: string, port: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'scripts', 'stack', 'embedded-postgres-main.ts'), dataDir, String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('DATABASE_URL=')) resolve({ url: line.slice('DATABASE_URL='.length), child });
    });
    child.once('exit', (code) => reject(new Error(`embedded database exited with ${code}: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

describe('the embedded database (npm start default)', () => {
  const base = mkdtempSync(join(tmpdir(), 'payments-embedded-'));
  chmodSync(base, 0o755); // PostgreSQL runs as the postgres user when we are root: it must reach the data dir.
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('runs the migrations and a round trip through knex, and keeps the data across restarts', async () => {
    const dataDir = join(base, 'pg');
    const port = await freePort();
    const id = randomUUID();

    const first = await startEmbedded(dataDir, port);
    try {
      const db = createDb({ url: first.url, poolMax: 2 });
      // A fresh database gets every migration, in order.
      const all = await migrationSource.getMigrations([]);
      expect(all.length).toBeGreaterThanOrEqual(5);
      expect(await migrateLatest(db)).toEqual(all);
      await db('payments').insert({
        id,
        order_id: 'order-embedded',
        amount: 100,
        currency: 'USD',
        channel: 'sandboxpay',
        idempotency_key: id,
        request_fingerprint: 'f',
        expires_at: new Date(),
      });
      const { version } = (await db.raw('select version()')).rows[0] as { version: string };
      expect(version).toMatch(/^PostgreSQL \d+/);
      await db.destroy();
    } finally {
      await stop(first.child);
    }

    const second = await startEmbedded(dataDir, port);
    try {
      const db = createDb({ url: second.url, poolMax: 2 });
      expect(await migrateLatest(db)).toEqual([]);
      expect(await db('payments').where({ id }).first()).toMatchObject({ order_id: 'order-embedded', amount: 100 });
      await db.destroy();
    } finally {
      await stop(second.child);
    }
  });
});
