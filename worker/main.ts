// The worker process: connections and dependencies are built once; SIGINT/SIGTERM drain it gracefully
// (in-flight activities finish or are handed back; nothing is lost, Temporal retries them elsewhere).
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { loadConfigOrExit } from '../config';
import { createLogger } from '../common/logger';
import { temporalConnectionOptions } from '../common/temporal';
import { createChannels } from '../activities/channels';
import { createHttpOrderNotifier } from '../activities/order-notifier';
import { createDb } from '../db/knex';
import { createPaymentWorker } from './worker';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const logger = createLogger('worker', config.logLevel);
  const sdkLevel: LogLevel = config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN';
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, ({ level, message, meta }) => {
      const fn = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'debug';
      logger[fn]({ sdk: meta }, message);
    }),
  });

  const db = createDb({
    url: config.database.url!,
    poolMax: config.database.poolMax,
    applicationName: 'payments-worker',
  });
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  const worker = await createPaymentWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps: {
      db,
      logger,
      channels: createChannels(config, logger),
      orders: createHttpOrderNotifier({ url: config.orders.url }),
      callbackBaseUrl: config.api.publicUrl,
    },
  });
  logger.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'worker polling');
  try {
    await worker.run();
  } finally {
    await connection.close();
    await db.destroy();
    logger.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
