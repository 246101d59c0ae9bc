// The API process: one Temporal client and one database pool for its whole life; SIGINT/SIGTERM stop taking
// requests, finish the ones in flight, then close connections.
import { Client, Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../config';
import { createLogger } from '../common/logger';
import { temporalConnectionOptions } from '../common/temporal';
import { createDb } from '../db/knex';
import { createApp } from './app';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const logger = createLogger('api', config.logLevel);
  const db = createDb({ url: config.database.url!, poolMax: config.database.poolMax, applicationName: 'payments-api' });
  // Connection.lazy: the API starts (and /healthz answers) even while Temporal is still coming up; /readyz tells.
  const connection = Connection.lazy(temporalConnectionOptions(config.temporal));
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({ db, temporal, config, logger });
  const server = app.listen(config.api.port, () => logger.info({ port: config.api.port }, 'api listening'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    server.close(() => {
      void Promise.allSettled([connection.close(), db.destroy()]).then(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
