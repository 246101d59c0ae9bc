// The simulated third parties for `npm start` and the chaos run: SandboxPay on SANDBOX_PORT, and the reference order
// service with the demo shop (/shop) on ORDER_SERVICE_PORT (its tables live in the schema order_service).
import { loadConfigOrExit } from '../config';
import { createLogger } from '../observability/logger';
import { createDb } from '../db/knex';
import { createOrderService, ensureOrderServiceSchema } from './order-service';
import { createSandboxPay } from './sandboxpay';
import { createShopRouter } from './shop';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const logger = createLogger('sandbox', config.logLevel);
  const db = createDb({ url: config.database.url!, poolMax: 5, applicationName: 'order-service' });
  await ensureOrderServiceSchema(db);

  const sandboxPay = createSandboxPay({
    merchantId: config.sandbox.sandboxpay.merchantId,
    secret: config.sandbox.sandboxpay.secret,
    publicUrl: config.sandbox.publicUrl,
    seed: config.sandbox.seed,
    faults: config.sandbox.faults,
    callbackRetryScale: config.sandbox.callbackRetryScale,
    logger,
  });
  const orderService = createOrderService({
    db,
    seed: config.sandbox.seed,
    faults: config.sandbox.orderFaults,
    logger,
  });
  orderService.app.use(
    createShopRouter({
      db,
      paymentsApiUrl: config.sandbox.shopApiUrl,
      browserApiUrl: config.api.publicUrl,
      publicUrl: config.orders.url,
      channels: Object.entries(config.channels)
        .filter(([, enabled]) => enabled)
        .map(([name]) => name),
      logger,
    }),
  );
  const servers = [
    sandboxPay.app.listen(config.sandbox.sandboxpay.port, () =>
      logger.info({ port: config.sandbox.sandboxpay.port }, 'SandboxPay listening'),
    ),
    orderService.app.listen(config.orders.port, () =>
      logger.info({ port: config.orders.port }, 'order service listening'),
    ),
  ];
  const stop = () => {
    sandboxPay.stop();
    for (const s of servers) s.close();
    for (const s of servers) s.closeAllConnections();
    void db.destroy().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
