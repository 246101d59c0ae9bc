// The worker process: connections and dependencies are built once; SIGINT/SIGTERM drain it gracefully
// (in-flight activities finish or are handed back; nothing is lost, Temporal retries them elsewhere).
import { createServer, type Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { createChannels } from '../channels';
import { createHttpOrderNotifier } from '../activities/order-notifier';
import { createLogger } from '../observability/logger';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { loadConfigOrExit } from '../config';
import { createDb } from '../db/knex';
import { registerDatabaseGauges, registry } from '../observability/metrics';
import { ensureReconcileSchedules } from './schedules';
import { createPaymentWorker } from './worker';
import { dataConverterFor } from '../codec/data-converter';

/** Our metrics at http://<host>:<port>/metrics. A busy port is reported, not fatal: payments matter more. */
function serveMetrics(host: string, port: number, logger: ReturnType<typeof createLogger>): Server {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  server.on('error', (err) => logger.error({ err, port }, 'worker metrics endpoint could not start'));
  server.listen(port, host, () => logger.info({ host, port }, 'worker metrics at /metrics'));
  return server;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const logger = createLogger('worker', config.logLevel);
  const sdkLevel: LogLevel = config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN';
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, ({ level, message, meta }) => {
      const fn = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'debug';
      logger[fn]({ sdk: meta }, message);
    }),
    // The SDK's own metrics (task latencies, slots, sticky cache, polls...) on their own port.
    ...(config.workerMetrics.sdkPort
      ? {
          telemetryOptions: {
            metrics: { prometheus: { bindAddress: `${config.listenHost}:${config.workerMetrics.sdkPort}` } },
          },
        }
      : {}),
  });

  const db = createDb({
    url: config.database.url!,
    poolMax: config.database.poolMax,
    applicationName: 'payments-worker',
  });
  registerDatabaseGauges(db, config.payments.notifyAlertAfterMs);
  const metricsServer = config.workerMetrics.port
    ? serveMetrics(config.listenHost, config.workerMetrics.port, logger)
    : undefined;
  const connectionOptions = temporalConnectionOptions(config.temporal);
  const nativeConnection = await NativeConnection.connect(connectionOptions);
  // A client too: reconciliation finds, restarts and signals workflows, and the worker keeps the schedules.
  const clientConnection = await Connection.connect(connectionOptions);
  // Every payload this process sends to Temporal is encrypted, and every one it reads decrypted (codec/).
  const dataConverter = dataConverterFor(config);
  const temporal = new Client({ connection: clientConnection, namespace: config.temporal.namespace, dataConverter });
  const channels = createChannels(config, logger);

  const worker = await createPaymentWorker({
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundlePath: config.workflowBundlePath,
    dataConverter,
    tuning: config.workerTuning,
    deps: {
      db,
      logger,
      channels,
      orders: createHttpOrderNotifier({ url: config.orders.url, signingKeys: config.orders.signingKeys }),
      callbackBaseUrl: config.api.publicUrl,
      temporal,
      config,
    },
  });
  if (config.reconcile.schedules) {
    try {
      const done = await ensureReconcileSchedules(temporal, config, Object.keys(channels));
      logger.info({ schedules: done }, 'reconciliation schedules in place');
    } catch (err) {
      // Payments still run without the net; say so loudly rather than refuse to work.
      logger.error({ err }, 'could not create the reconciliation schedules');
    }
  }
  logger.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'worker polling');
  try {
    await worker.run();
  } finally {
    metricsServer?.close();
    await clientConnection.close();
    await nativeConnection.close();
    await db.destroy();
    logger.info('worker stopped');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
