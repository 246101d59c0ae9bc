// The simulated third parties for `npm start` and the chaos run: SandboxPay on SANDBOX_PORT, the WeChat Pay v3
// emulator on WECHATPAY_EMULATOR_PORT when its keys are configured (sandbox/wechatpay/dev-keys.ts), the Alipay
// emulator on ALIPAY_EMULATOR_PORT likewise (sandbox/alipay/dev-keys.ts), and the reference order service with the
// demo shop (/shop) on ORDER_SERVICE_PORT (its tables live in the schema order_service). The emulators' wallets keep
// their payments in the schema sandbox_wallet (sandbox/wallet-store.ts), so a restart loses none of them.
import { loadConfigOrExit } from '../config';
import { createLogger } from '../observability/logger';
import { createDb } from '../db/knex';
import { createOrderService, ensureOrderServiceSchema } from './order-service';
import { createAlipayEmulator } from './alipay/emulator';
import { createSandboxPay } from './sandboxpay';
import { createShopRouter } from './shop';
import { WalletStore } from './wallet-store';
import { createStripeCheckoutRouter } from './stripe/checkout';
import { createWechatPayEmulator, wechatPayEmulatorOptions } from './wechatpay/emulator';

async function main(): Promise<void> {
  const config = loadConfigOrExit({ require: ['DATABASE_URL'] });
  const logger = createLogger('sandbox', config.logLevel);
  const db = createDb({ url: config.database.url!, poolMax: 5, applicationName: 'order-service' });
  await ensureOrderServiceSchema(db);
  // The wallets' own pool: their writes (one at a time per wallet) never wait behind the order service's.
  const walletDb = createDb({ url: config.database.url!, poolMax: 3, applicationName: 'sandbox-wallet' });
  // Opened one after another: each makes sure of the schema, which must not race itself.
  const stores = {
    sandboxpay: await WalletStore.open(walletDb, 'sandboxpay'),
    wechatpay: config.sandbox.wechatpay ? await WalletStore.open(walletDb, 'wechatpay') : undefined,
    alipay: config.sandbox.alipay ? await WalletStore.open(walletDb, 'alipay') : undefined,
  };

  const sandboxPay = createSandboxPay({
    merchantId: config.sandbox.sandboxpay.merchantId,
    secret: config.sandbox.sandboxpay.secret,
    publicUrl: config.sandbox.publicUrl,
    seed: config.sandbox.seed,
    faults: config.sandbox.faults,
    callbackRetryScale: config.sandbox.callbackRetryScale,
    logger,
    store: stores.sandboxpay,
  });
  // Stripe's test checkout page (Stripe.js cannot load here) is served beside SandboxPay's wallet.
  if (config.channels.stripe?.checkoutUrl) {
    sandboxPay.app.use(
      createStripeCheckoutRouter({
        apiUrl: config.channels.stripe.apiUrl,
        secretKey: config.channels.stripe.secretKey,
        logger,
      }),
    );
  }
  const orderService = createOrderService({
    db,
    seed: config.sandbox.seed,
    faults: config.sandbox.orderFaults,
    logger,
    signingKeys: config.orders.signingKeys,
  });
  orderService.app.use(
    createShopRouter({
      db,
      // The buyer's browser reaches the payments API where the shop does (SHOP_API_URL), and the shop where it
      // reached it (the request's Host): ORDER_SERVICE_URL and API_PUBLIC_URL are the services' own addresses.
      paymentsApiUrl: config.sandbox.shopApiUrl,
      channels: Object.entries(config.channels)
        .filter(([, enabled]) => enabled)
        .map(([name]) => name),
      logger,
    }),
  );
  // ---- WeChat Pay emulator (only when its keys are configured) ----
  const wechatPay = config.sandbox.wechatpay
    ? createWechatPayEmulator(
        wechatPayEmulatorOptions(config.sandbox.wechatpay, {
          // Its own wallet pages: the QR code's content, opened by a phone camera in the demo.
          publicUrl: config.sandbox.wechatpay.publicUrl,
          seed: config.sandbox.seed,
          faults: config.sandbox.faults,
          callbackRetryScale: config.sandbox.callbackRetryScale,
          logger,
          ...(stores.wechatpay ? { store: stores.wechatpay } : {}),
        }),
      )
    : undefined;
  // ---- end WeChat Pay ----
  const servers = [
    sandboxPay.app.listen(config.sandbox.sandboxpay.port, config.listenHost, () =>
      logger.info({ port: config.sandbox.sandboxpay.port }, 'SandboxPay listening'),
    ),
    orderService.app.listen(config.orders.port, config.listenHost, () =>
      logger.info({ port: config.orders.port }, 'order service listening'),
    ),
    ...(wechatPay && config.sandbox.wechatpay
      ? [
          wechatPay.app.listen(config.sandbox.wechatpay.port, config.listenHost, () =>
            logger.info({ port: config.sandbox.wechatpay?.port }, 'WeChat Pay emulator listening'),
          ),
        ]
      : []),
  ];
  // ---- Alipay (issue 12): the gateway emulator, sharing the sandbox's seed and faults -------------------------
  const alipaySettings = config.sandbox.alipay;
  const alipay = alipaySettings
    ? createAlipayEmulator({
        ...alipaySettings,
        seed: config.sandbox.seed,
        faults: config.sandbox.faults,
        callbackRetryScale: config.sandbox.callbackRetryScale,
        logger,
        ...(stores.alipay ? { store: stores.alipay } : {}),
      })
    : undefined;
  if (alipay && alipaySettings) {
    servers.push(
      alipay.app.listen(alipaySettings.port, config.listenHost, () =>
        logger.info({ port: alipaySettings.port, publicUrl: alipaySettings.publicUrl }, 'Alipay emulator listening'),
      ),
    );
  }
  // ---- end Alipay ----------------------------------------------------------------------------------------------
  const stop = () => {
    sandboxPay.stop();
    wechatPay?.stop();
    alipay?.stop();
    for (const s of servers) s.close();
    for (const s of servers) s.closeAllConnections();
    // What the wallets changed last is stored before the pools close.
    const flushed = [sandboxPay, wechatPay, alipay].map((e) => e?.wallet.flush());
    void Promise.allSettled(flushed)
      .then(() => Promise.allSettled([db.destroy(), walletDb.destroy()]))
      .then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
