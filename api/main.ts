// The API process: one Temporal client and one database pool for its whole life; SIGINT/SIGTERM stop taking
// requests, finish the ones in flight, then close connections.
import { Client, Connection } from '@temporalio/client';
import { dataConverterFor } from '../codec/data-converter';
import { loadConfigOrExit } from '../config';
import { createLogger } from '../observability/logger';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { createDb } from '../db/knex';
import { createChannels } from '../channels';
import { createApp } from './app';
import { StatusFeed } from './status-feed';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const logger = createLogger('api', config.logLevel);
  const db = createDb({ url: config.database.url!, poolMax: config.database.poolMax, applicationName: 'payments-api' });
  // Connection.lazy: the API starts (and /healthz answers) even while Temporal is still coming up; /readyz tells.
  const connection = Connection.lazy(temporalConnectionOptions(config.temporal));
  // Payloads (workflow inputs, signals, updates, query answers) leave and enter this process encrypted (codec/).
  const temporal = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverterFor(config),
  });
  const statusFeed = new StatusFeed(config.database.url!, logger);
  await statusFeed.start();
  const app = createApp({ db, temporal, config, logger, channels: createChannels(config, logger), statusFeed });
  const server = app.listen(config.api.port, config.listenHost, () =>
    logger.info({ host: config.listenHost, port: config.api.port }, 'api listening'),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    server.close(() => {
      void Promise.allSettled([connection.close(), statusFeed.stop(), db.destroy()]).then(() => process.exit(0));
    });
    server.closeIdleConnections();
    // Push streams never end on their own; the clients reconnect (to another process) with Last-Event-ID.
    setTimeout(() => server.closeAllConnections(), 2000).unref();
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`api failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
