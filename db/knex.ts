// The single way the service reaches PostgreSQL: knex over node-postgres, whether the server is the embedded one
// that `npm start` runs or a real cluster.
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { metrics } from '../observability/metrics';
import { migrationSource } from './migrations';

// BIGINT (int8) columns hold money in minor units; they fit a JS number up to 2^53, so parse them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} does not fit a safe integer`);
  return n;
});

/** A knex instance or a transaction: repositories take either, so callers can group writes. */
export type Db = Knex | Knex.Transaction;

export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Name shown in pg_stat_activity, e.g. "payments-api". */
  applicationName?: string;
  /** Where knex's own warnings go (default: its console logger). */
  log?: Knex.Logger;
}

export function createDb({ url, poolMax = 10, applicationName = 'payments', log }: DbOptions): Knex {
  const db = knex({
    client: 'pg',
    connection: { connectionString: url, application_name: applicationName },
    pool: { min: 0, max: poolMax },
    migrations: { migrationSource, tableName: 'knex_migrations' },
    acquireConnectionTimeout: 10_000,
    ...(log ? { log } : {}),
  });
  // Counted for the benchmark's cost per payment (statements per payment, per process).
  db.on('query', () => metrics.dbStatements.inc());
  return db;
}

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

/** True when a query succeeds within the timeout; for readiness checks. */
export async function pingDb(db: Knex, timeoutMs = 2000): Promise<void> {
  await db.raw('select 1').timeout(timeoutMs, { cancel: true });
}
