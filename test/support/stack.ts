// The whole stack in one test process, every part real and talking over real HTTP/gRPC/SQL: the dev server,
// PostgreSQL, our worker, our API (port 0) with its push feed, SandboxPay (sending signed callbacks to the API; its
// wallet stored in the test database, as in `npm start`, so a test can restart it) and the order service. The API
// reaches Temporal through a TCP proxy the test can cut, to play an outage.
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket, connect } from 'node:net';
import type { Knex } from 'knex';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { createChannels } from '../../channels';
import { createHttpOrderNotifier, type OrderNotifier } from '../../activities/order-notifier';
import { PaymentsRepository } from '../../db/payments-repo';
import { createApp } from '../../api/app';
import { StatusFeed } from '../../api/status-feed';
import { freePort } from '../../scripts/stack/net';
import { type Config, loadConfig } from '../../config';
import { createOrderService, ensureOrderServiceSchema, type OrderService } from '../../sandbox/order-service';
import { createSandboxPay, type SandboxPay, type SandboxPayFaults } from '../../sandbox/sandboxpay';
import { createShopRouter } from '../../sandbox/shop';
import { WalletStore } from '../../sandbox/wallet-store';
import { createPaymentWorker } from '../../worker/worker';
import { createTestDatabase, devServerAddress, TEST_PAYLOAD_KEYS, type TestDatabase, workflowBundlePath } from './env';
import { dataConverterFor } from '../../codec/data-converter';
import { listen } from './http';

export const SECRET = 'stack-test-secret-0123456789abcdef';
export const ADMIN_KEY = 'stack-admin-key-0123456789';
/** The order-notification key the worker signs with and the order service accepts (ORDER_NOTIFY_SIGNING_KEYS). */
export const ORDER_NOTIFY_KEYS = 'stack:stack-order-notify-key-0123456789abcdefXYZ';

/** A TCP proxy to the dev server that can be switched off (connections cut, refused) and on again. */
export class TemporalProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const [host, port] = this.target.split(':');
    this.server = createServer((client) => {
      const upstream = connect(Number(port), host!);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', resolve);
    });
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

export interface StackOptions {
  env?: Record<string, string>;
  sandboxFaults?: Partial<SandboxPayFaults>;
  /** Multiplies SandboxPay's callback retry schedule (15 s, 15 s, 30 s, ...). */
  callbackRetryScale?: number;
  /** Wraps the worker's (real, HTTP) order notifier, e.g. to create an order the shop never made first. */
  orderNotifier?: (real: OrderNotifier, ordersUrl: string) => OrderNotifier;
  /**
   * More channels' test doubles (WeChat Pay's or Alipay's emulator, localstripe), started before the API and worker:
   * each answers the variables that enable and configure its channel's adapter, and how to stop it.
   */
  channelDoubles?: ChannelDouble[];
  /** The order service's own ORDER_NOTIFY_SIGNING_KEYS, when it differs from the worker's (default: the same). */
  orderServiceKeys?: string;
}

/** Starts a channel's double; `db` is the stack's database, where an emulator of ours keeps its wallet. */
export type ChannelDouble = (
  logger: Logger,
  db: Knex,
) => Promise<{ env: Record<string, string>; stop: () => Promise<void> }>;

export class Stack {
  readonly logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  config!: Config;
  t!: TestDatabase;
  repo!: PaymentsRepository;
  sandbox!: SandboxPay;
  sandboxUrl!: string;
  orderService!: OrderService;
  ordersUrl!: string;
  apiUrl!: string;
  proxy!: TemporalProxy;
  temporal!: Client;
  /** A client straight to the dev server (the worker's; unaffected by the proxy). */
  workerTemporal!: Client;
  statusFeed!: StatusFeed;
  private sandboxServer: HttpServer | undefined;
  private sandboxOptions!: Pick<StackOptions, 'sandboxFaults' | 'callbackRetryScale'>;
  private worker!: Worker;
  private workerDone!: Promise<void>;
  private readonly closers: (() => Promise<void>)[] = [];

  static async start(options: StackOptions = {}): Promise<Stack> {
    const stack = new Stack();
    await stack.init(options);
    return stack;
  }

  private async init(options: StackOptions): Promise<void> {
    this.t = await createTestDatabase();
    await ensureOrderServiceSchema(this.t.db);
    this.repo = new PaymentsRepository(this.t.db);

    const apiPort = await freePort();
    const sandboxPort = await freePort();
    const taskQueue = `stack-${apiPort}`;
    // The order service (with the demo shop) first: the API must allow the shop's origin to read payments.
    // Both sides share ORDER_NOTIFY_SIGNING_KEYS (options.env may set it), unless the test gives the order service
    // keys of its own (a rotation half done).
    const notifyKeys = options.env?.ORDER_NOTIFY_SIGNING_KEYS ?? ORDER_NOTIFY_KEYS;
    this.orderService = createOrderService({
      db: this.t.db,
      seed: 'stack',
      logger: this.logger,
      signingKeys: loadConfig({ ORDER_NOTIFY_SIGNING_KEYS: options.orderServiceKeys ?? notifyKeys }).orders.signingKeys,
    });
    const orders = await listen(this.orderService.app);
    this.ordersUrl = orders.url;
    this.closers.push(orders.close);

    const doubleEnv: Record<string, string> = {};
    for (const start of options.channelDoubles ?? []) {
      const double = await start(this.logger, this.t.db);
      Object.assign(doubleEnv, double.env);
      this.closers.push(double.stop);
    }

    this.config = loadConfig({
      DATABASE_URL: this.t.url,
      TEMPORAL_ADDRESS: devServerAddress(),
      TEMPORAL_TASK_QUEUE: taskQueue,
      API_PORT: String(apiPort),
      API_CORS_ORIGINS: this.ordersUrl,
      SANDBOX_PORT: String(sandboxPort),
      SANDBOXPAY_SECRET: SECRET,
      ADMIN_API_KEY: ADMIN_KEY,
      ORDER_NOTIFY_SIGNING_KEYS: ORDER_NOTIFY_KEYS,
      PAYMENT_QUERY_SCHEDULE: '2s,3s,5s',
      PAYMENT_EXPIRY: '2m',
      LATE_CALLBACK_WINDOW: '1m',
      PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
      ...doubleEnv,
      ...options.env,
    });

    // The demo shop offers the channels the API has.
    this.orderService.app.use(
      createShopRouter({
        db: this.t.db,
        paymentsApiUrl: `http://127.0.0.1:${apiPort}`,
        publicUrl: this.ordersUrl,
        channels: Object.entries(this.config.channels)
          .filter(([, enabled]) => enabled)
          .map(([name]) => name),
        logger: this.logger,
      }),
    );

    this.sandboxOptions = options;
    await this.startSandbox();
    this.sandboxUrl = this.config.sandbox.sandboxpay.url;
    this.closers.push(() => this.stopSandbox());

    this.proxy = new TemporalProxy(await freePort(), devServerAddress());
    await this.proxy.up();
    const connection = await Connection.connect({ address: this.proxy.address });
    const dataConverter = dataConverterFor(this.config);
    this.temporal = new Client({ connection, namespace: 'default', dataConverter });
    this.statusFeed = new StatusFeed(this.t.url, this.logger);
    await this.statusFeed.start();
    const channels = createChannels(this.config, this.logger);
    const app = createApp({
      db: this.t.db,
      temporal: this.temporal,
      config: this.config,
      logger: this.logger,
      channels,
      statusFeed: this.statusFeed,
    });
    const apiServer = app.listen(apiPort, '127.0.0.1');
    await new Promise((resolve, reject) => apiServer.once('listening', resolve).once('error', reject));
    this.apiUrl = `http://127.0.0.1:${apiPort}`;
    this.closers.push(async () => {
      apiServer.closeAllConnections();
      await new Promise((r) => apiServer.close(r));
      await this.statusFeed.stop();
      await connection.close();
      await this.proxy.down();
    });

    const nativeConnection = await NativeConnection.connect({ address: devServerAddress() });
    // The worker's own client (reconciliation) talks to Temporal directly, not through the API's proxy.
    const workerConnection = await Connection.connect({ address: devServerAddress() });
    this.workerTemporal = new Client({ connection: workerConnection, namespace: 'default', dataConverter });
    this.worker = await createPaymentWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundlePath: workflowBundlePath(),
      dataConverter,
      deps: {
        db: this.t.db,
        logger: this.logger,
        channels,
        orders: (options.orderNotifier ?? ((real) => real))(
          createHttpOrderNotifier({ url: this.ordersUrl, signingKeys: this.config.orders.signingKeys }),
          this.ordersUrl,
        ),
        callbackBaseUrl: this.apiUrl,
        temporal: this.workerTemporal,
        config: this.config,
      },
    });
    this.workerDone = this.worker.run();
    this.closers.push(async () => {
      this.worker.shutdown();
      await this.workerDone;
      await nativeConnection.close();
      await workerConnection.close();
    });
  }

  async stop(): Promise<void> {
    for (const close of this.closers.reverse()) await close();
    await this.t.drop();
  }

  /** SandboxPay on its port, its wallet loaded from the stack's database (what a start of the sandbox process does). */
  private async startSandbox(): Promise<void> {
    const { sandboxFaults, callbackRetryScale } = this.sandboxOptions;
    this.sandbox = createSandboxPay({
      merchantId: this.config.sandbox.sandboxpay.merchantId,
      secret: SECRET,
      publicUrl: this.config.sandbox.sandboxpay.url,
      seed: 'stack',
      faults: sandboxFaults ?? {},
      callbackRetryScale: callbackRetryScale ?? 0.02,
      logger: this.logger,
      store: await WalletStore.open(this.t.db, 'sandboxpay'),
    });
    const server = this.sandbox.app.listen(this.config.sandbox.sandboxpay.port, '127.0.0.1');
    await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
    this.sandboxServer = server;
  }

  /** Stops SandboxPay as its process stopping would: its timers and pending deliveries end, its port closes. */
  private async stopSandbox(): Promise<void> {
    this.sandbox.stop();
    // The write in progress completes (a dead process's would have committed or not); nothing is written after it.
    await this.sandbox.wallet.flush().catch(() => undefined);
    const server = this.sandboxServer;
    this.sandboxServer = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  /**
   * Restarts SandboxPay: stopped, then a new one started on the same port and database (the sandbox process
   * restarting). `faults` replaces the faults it starts with (they are configuration, not stored state).
   */
  async restartSandbox(faults?: Partial<SandboxPayFaults>): Promise<void> {
    await this.stopSandbox();
    if (faults) this.sandboxOptions = { ...this.sandboxOptions, sandboxFaults: faults };
    await this.startSandbox();
  }

  /** An order at the order service, as the shop would create it before asking for payment. */
  async createOrder(amount = 2599, currency = 'CNY'): Promise<string> {
    const res = await fetch(`${this.ordersUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount, currency }),
    });
    return ((await res.json()) as { orderId: string }).orderId;
  }

  async order(orderId: string): Promise<{ status: string; transitions: unknown[] }> {
    return (await (await fetch(`${this.ordersUrl}/orders/${orderId}`)).json()) as {
      status: string;
      transitions: unknown[];
    };
  }

  /** The buyer in the wallet: pay or decline. */
  async buyer(channelPaymentId: string, action: 'pay' | 'decline'): Promise<number> {
    return (await fetch(`${this.sandboxUrl}/v1/payments/${channelPaymentId}/${action}`, { method: 'POST' })).status;
  }

  /** Polls until `check` returns a value (real time; the dev server does not skip). */
  async eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The channel's payment id, from the pay URL the API returned. */
export const channelIdOf = (payUrl: string) => payUrl.split('/pay/')[1]!;
