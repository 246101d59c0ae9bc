// npm run db:embedded [-- <dataDir> <port>]: the embedded PostgreSQL on its own, for running the worker or the API
// by hand. Prints `DATA_DIR=...` and `DATABASE_URL=...` once it accepts connections; Ctrl-C stops it.
import { join } from 'node:path';
import { startEmbeddedDb } from './embedded-postgres';

async function main(): Promise<void> {
  const dataDir = process.argv[2] ?? join(__dirname, '..', '..', '.data', 'postgres');
  const port = Number(process.argv[3] ?? 5433);
  const db = await startEmbeddedDb({ dataDir, port });
  process.stdout.write(`DATA_DIR=${db.dataDir}\nDATABASE_URL=${db.url}\n`);
  const stop = () => void db.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`embedded database failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
