// The one place configuration is read. Every process calls loadConfig() once at start-up; it fails fast with one
// line per bad variable, and hands each part of the program only the section it needs.
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ms from 'ms';
import { z } from 'zod';
import { PAYLOAD_ENCRYPTION_MODES, type PayloadEncryptionConfig, payloadEncryptionConfig } from '../codec/keys';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses "10s", "5m", "1h", "25h" into milliseconds; rejects anything else. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(trimmed)) return undefined;
  const value = ms(trimmed as ms.StringValue);
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

const duration = z.string().transform((text, ctx) => {
  const value = parseDuration(text);
  if (value === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration such as 500ms, 10s, 5m, 2h` });
    return z.NEVER;
  }
  return value;
});

/**
 * The escalation schedule: comma-separated intervals between channel queries, e.g. "10s,30s,1m,2m". The last
 * interval repeats until the payment expires. Intervals must not shrink: the schedule escalates.
 */
const schedule = z.string().transform((text, ctx) => {
  const parts = text.split(',').map((p) => p.trim());
  const values: number[] = [];
  for (const [i, part] of parts.entries()) {
    const value = parseDuration(part);
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1} "${part}" is not a duration such as 10s or 5m` });
      return z.NEVER;
    }
    const previous = values[values.length - 1];
    if (previous !== undefined && value < previous) {
      ctx.addIssue({ code: 'custom', message: `entry ${i + 1} "${part}" is shorter than the one before it` });
      return z.NEVER;
    }
    values.push(value);
  }
  return values;
});

/** A delay that may be zero: "0", or a duration such as 10h. */
const delay = z.string().transform((text, ctx) => {
  if (text.trim() === '0') return 0;
  const value = parseDuration(text);
  if (value === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not 0 or a duration such as 30m, 10h` });
    return z.NEVER;
  }
  return value;
});

const port = z.coerce.number().int().min(0).max(65535);

/** A browser origin as a browser sends it in `Origin`: http(s), a host, maybe a port; no path, no wildcard. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return /^https?:$/.test(url.protocol) && url.origin === text;
  } catch {
    return false;
  }
}
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const url = z.url({ protocol: /^https?$/ });
const postgresUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://');
const secret = z.string().min(16, 'must be at least 16 characters');
const rate = z.coerce.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').default(0);
const ms0 = z.coerce.number().int().min(0);

// Development defaults for secrets; refused when NODE_ENV=production (see below).
const DEV_CHANNEL_SECRET = 'sandboxpay-dev-secret-not-for-production';
/** Printed by `npm start` and written in the README's operator commands: it only ever guards a development stack. */
export const DEV_ADMIN_API_KEY = 'admin-dev-key-not-for-production';
const DEV_ORDER_NOTIFY_KEYS = 'dev:order-notify-dev-secret-not-for-production';

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // The address every server of ours listens on (API, metrics, sandbox): loopback unless told otherwise (containers).
  LISTEN_HOST: z
    .string()
    .regex(/^[0-9A-Za-z.:-]+$/, 'must be an address such as 127.0.0.1 or 0.0.0.0')
    .default('127.0.0.1'),

  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^:\s]+:\d+$/, 'must be host:port')
    .optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('payments'),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),

  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  EMBEDDED_DB_PORT: port.default(5433),
  // Where `npm start` keeps its state (dev server SQLite file, embedded database); default <project>/.data.
  STACK_DATA_DIR: z
    .string()
    .trim()
    .min(1, 'must be a directory path')
    .refine((p) => !p.includes('\0'), 'must be a directory path')
    .refine((p) => !existsSync(p) || statSync(p).isDirectory(), 'exists and is not a directory')
    .optional(),

  API_PORT: port.default(3000),
  API_PUBLIC_URL: url.optional(),
  ADMIN_API_KEY: secret.default(DEV_ADMIN_API_KEY),
  API_CORS_ORIGINS: z.string().optional(),
  // Browser origins of the Temporal Web UI that may call the codec server (/codec) with credentials.
  CODEC_CORS_ORIGINS: z
    .string()
    .transform((text, ctx) => {
      const origins = text
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
      for (const origin of origins) {
        if (!isOrigin(origin)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${origin}" is not an origin such as http://localhost:8233 (scheme, host and port only; no *)`,
          });
          return z.NEVER;
        }
      }
      return origins;
    })
    .optional(),

  SANDBOX_PORT: port.default(3100),
  // Where `npm start` runs localstripe, the Stripe channel's double (scripts/stack/channels.ts).
  LOCALSTRIPE_PORT: port.default(3103),
  // Payment channels: each is enabled by its own variables (see channels/index.ts for the registry built from them).
  SANDBOXPAY_ENABLED: bool.default(true),
  SANDBOXPAY_URL: url.optional(),
  SANDBOXPAY_MERCHANT_ID: z.string().min(1).default('demo-shop'),
  SANDBOXPAY_SECRET: secret.default(DEV_CHANNEL_SECRET),

  // --- Stripe (channels/stripe.ts) ---
  STRIPE_ENABLED: bool.default(false),
  // Where the Stripe API is: Stripe itself, or a double (localstripe) in tests and the demo.
  STRIPE_API_URL: url.default('https://api.stripe.com'),
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret or restricted key (sk_test_..., rk_live_...)')
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_\S+$/, "must be the endpoint's signing secret (whsec_...)")
    .optional(),
  STRIPE_PUBLISHABLE_KEY: z
    .string()
    .regex(/^pk_(test|live)_\w+$/, 'must be a Stripe publishable key (pk_test_... or pk_live_...)')
    .optional(),
  // Per-request timeout towards Stripe; default CHANNEL_TIMEOUT.
  STRIPE_TIMEOUT: duration.optional(),
  // Base URL of the demo's buyer page for Stripe (sandbox/stripe/checkout.ts), handed to buyers as pageUrl.
  STRIPE_CHECKOUT_URL: url.optional(),
  // --- end Stripe ---
  // ---- WeChat Pay v3 (channels/wechatpay) -------------------------------------------------------------------------
  WECHATPAY_ENABLED: bool.default(false),
  WECHATPAY_API_URL: url.default('https://api.mch.weixin.qq.com'),
  WECHATPAY_MCHID: z
    .string()
    .regex(/^[0-9A-Za-z_-]{1,32}$/, 'must be a merchant id (mchid)')
    .optional(),
  WECHATPAY_APPID: z
    .string()
    .regex(/^[0-9A-Za-z_-]{1,32}$/, 'must be an app id (appid)')
    .optional(),
  WECHATPAY_MERCHANT_SERIAL: z
    .string()
    .regex(/^[0-9A-Fa-f]{8,64}$/, 'must be a certificate serial (hex)')
    .optional(),
  WECHATPAY_MERCHANT_PRIVATE_KEY: z.string().min(1).optional(),
  WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  WECHATPAY_API_V3_KEY: z
    .string()
    .refine(
      (k) => [16, 24, 32].includes(Buffer.byteLength(k, 'utf8')),
      'must be 32 bytes (16 or 24 outside production)',
    )
    .optional(),
  WECHATPAY_PLATFORM_CERT_FILES: z.string().min(1).optional(),
  WECHATPAY_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  WECHATPAY_PUBLIC_KEY_ID: z
    .string()
    .regex(/^PUB_KEY_ID_\w+$/, 'must be PUB_KEY_ID_...')
    .optional(),
  WECHATPAY_TIMEOUT: duration.optional(),
  // A day's trade bill is out this long after the day ends (China time): the vendor's is the next morning, ~10:00.
  WECHATPAY_BILL_DELAY: delay.prefault('10h'),
  WECHATPAY_EMULATOR_PORT: port.default(3101),
  // Where buyers reach the emulator's wallet pages (the QR code's content): a phone needs the machine's address.
  WECHATPAY_EMULATOR_PUBLIC_URL: url.optional(),
  WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  WECHATPAY_EMULATOR_MERCHANT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  // ---- end WeChat Pay ------------------------------------------------------------------------------------------
  // ---- Alipay (issue 12) -------------------------------------------------------------------------------------
  // The adapter: OpenAPI v2 gateway, our app's RSA2 key pair (private half here), Alipay's public key. Keys as PEM
  // (PKCS#1 or PKCS#8) or the bare base64 Alipay's key tool prints, inline or in a file; checked in loadConfig.
  ALIPAY_ENABLED: bool.default(false),
  ALIPAY_GATEWAY: url.default('https://openapi.alipay.com/gateway.do'),
  ALIPAY_APP_ID: z
    .string()
    .regex(/^\d{16}$/, 'must be the 16-digit app id Alipay assigned')
    .optional(),
  ALIPAY_SELLER_ID: z
    .string()
    .regex(/^2088\d{12}$/, "must be the merchant's 16-digit pid, starting 2088")
    .optional(),
  ALIPAY_APP_PRIVATE_KEY: z.string().min(1).optional(),
  ALIPAY_APP_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  ALIPAY_PUBLIC_KEY: z.string().min(1).optional(),
  ALIPAY_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  ALIPAY_TIMEOUT: duration.optional(),
  // A day's bill is out this long after the day ends (China time): Alipay's is the next morning.
  ALIPAY_BILL_DELAY: delay.prefault('10h'),
  // The emulator (sandbox/alipay): its port, the "Alipay" private key it signs with, the app public key it checks.
  ALIPAY_EMULATOR_PORT: port.default(3102),
  ALIPAY_EMULATOR_PUBLIC_URL: url.optional(),
  ALIPAY_EMULATOR_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  // ---- end Alipay --------------------------------------------------------------------------------------------

  SANDBOX_PUBLIC_URL: url.optional(),
  SHOP_API_URL: url.optional(),
  SANDBOX_SEED: z.string().min(1).default('sandbox'),
  SANDBOX_CALLBACK_RETRY_SCALE: z.coerce.number().positive().max(1).default(1),
  SANDBOX_CALLBACK_DROP_RATE: rate,
  SANDBOX_CALLBACK_DUPLICATE_RATE: rate,
  SANDBOX_CALLBACK_DELAY_RATE: rate,
  SANDBOX_CALLBACK_DELAY_MAX_MS: ms0.default(0),
  SANDBOX_QUERY_ERROR_RATE: rate,
  SANDBOX_QUERY_TIMEOUT_RATE: rate,
  SANDBOX_QUERY_LATENCY_MS: ms0.default(0),
  SANDBOX_STUCK_PENDING_RATE: rate,
  SANDBOX_CLOSE_RACE_PAY_RATE: rate,
  SANDBOX_LATE_SETTLE_RATE: rate,
  CHANNEL_TIMEOUT: duration.prefault('5s'),

  ORDER_SERVICE_PORT: port.default(3200),
  ORDER_SERVICE_ERROR_RATE: rate,
  ORDER_SERVICE_LATENCY_MS: ms0.default(0),
  ORDER_SERVICE_URL: url.optional(),
  // HMAC keys of the order-service notifications, `keyId:secret[,keyId:secret]` (parsed by orderNotifyKeys below).
  ORDER_NOTIFY_SIGNING_KEYS: z.string().default(DEV_ORDER_NOTIFY_KEYS),
  // Encryption of Temporal payloads (codec/keys.ts says the formats; checked by payloadEncryptionConfig below).
  PAYLOAD_ENCRYPTION: z.enum(PAYLOAD_ENCRYPTION_MODES).optional(),
  PAYLOAD_ENCRYPTION_KEYS: z.string().optional(),
  PAYLOAD_ENCRYPTION_KEY_FILE: z.string().min(1).optional(),

  PAYMENT_QUERY_SCHEDULE: schedule.prefault(['10s', '30s', '1m', '2m', '5m', '10m', '15m', '30m'].join(',')),
  PAYMENT_EXPIRY: duration.prefault('30m'),
  LATE_CALLBACK_WINDOW: duration.prefault('25h'),
  ORDER_NOTIFY_INITIAL_BACKOFF: duration.prefault('1s'),
  ORDER_NOTIFY_MAX_BACKOFF: duration.prefault('5m'),
  ORDER_NOTIFY_ALERT_AFTER: duration.prefault('10m'),
  LATE_SUCCESS_POLICY: z.enum(['refund', 'review']).default('refund'),

  RECONCILE_INTERVAL: duration.prefault('5m'),
  RECONCILE_MIN_AGE: duration.prefault('2m'),
  STATEMENT_INTERVAL: duration.prefault('24h'),
  STATEMENT_LOOKBACK: duration.prefault('48h'),
  RECONCILE_SCHEDULES: bool.default(true),

  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  // Worker tuning; unset means the SDK's own default (see README, "Measuring").
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(1_000_000).optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(10_000).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).optional(),
  WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).optional(),
  WORKER_POLLER_AUTOSCALING: bool.default(false),
  WORKER_METRICS_PORT: port.default(9464),
  TEMPORAL_SDK_METRICS_PORT: port.default(9465),
});

type Env = z.infer<typeof envSchema>;

/** Every environment variable the configuration reads (docker-compose.yml is checked against it). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as (keyof Env)[];

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: { clientCertPath?: string; clientKeyPath?: string };
  apiKey?: string;
  uiPort: number;
}

/** The simulated third parties (sandbox/): fault injection, deterministic under the seed. */
export interface SandboxConfig {
  /** The SandboxPay emulator: its port, and the merchant and callback secret it shares with our adapter. */
  sandboxpay: { port: number; url: string; merchantId: string; secret: string };
  /** The WeChat Pay v3 emulator, when its keys are configured (sandbox/wechatpay/dev-keys.ts makes them). */
  wechatpay?: WechatPayEmulatorConfig;
  /** The Alipay emulator, when its keys are configured (sandbox/alipay/dev-keys.ts makes a set). */
  alipay?: AlipayEmulatorConfig;
  /** Where browsers reach SandboxPay (pay URLs); default SANDBOXPAY_URL. */
  publicUrl: string;
  /** Where the demo shop's backend reaches the payments API; default API_PUBLIC_URL. */
  shopApiUrl: string;
  seed: string;
  callbackRetryScale: number;
  faults: {
    callbackDropRate: number;
    callbackDuplicateRate: number;
    callbackDelayRate: number;
    callbackDelayMaxMs: number;
    queryErrorRate: number;
    queryTimeoutRate: number;
    queryLatencyMs: number;
    stuckPendingRate: number;
    closeRacePayRate: number;
    lateSettleRate: number;
  };
  orderFaults: { errorRate: number; latencyMs: number };
}

/** Worker options worth tuning; undefined leaves the SDK's default. */
export interface WorkerTuning {
  maxCachedWorkflows?: number;
  maxConcurrentWorkflowTasks?: number;
  maxConcurrentActivities?: number;
  maxConcurrentLocalActivities?: number;
  /** Let the SDK scale its pollers with the backlog (Temporal server >= 1.28). */
  pollerAutoscaling: boolean;
}

/** What `npm start` runs itself, because no external one was configured. */
export interface StackConfig {
  /** TEMPORAL_ADDRESS unset: run the Temporal dev server on TEMPORAL_PORT (Web UI on TEMPORAL_UI_PORT). */
  embedTemporal: boolean;
  temporalPort: number;
  /** DATABASE_URL unset: run the embedded PostgreSQL on EMBEDDED_DB_PORT, data under dataDir. */
  embedDatabase: boolean;
  /** Absolute; where `npm start` keeps the dev server's SQLite file, the embedded database and its state file. */
  dataDir: string;
  /** Where `npm start` runs the real channels' doubles (unless the channel is configured by hand). */
  doublePorts: { wechatpay: number; alipay: number; localstripe: number };
}

export interface DatabaseConfig {
  /** Unset only in the stack launcher, which then embeds a PostgreSQL server and sets it for its children. */
  url?: string;
  poolMax: number;
  embeddedPort: number;
}

export interface PaymentPolicy {
  /** Intervals between channel queries in ms; the last repeats until expiry. */
  querySchedule: number[];
  expiryMs: number;
  lateWindowMs: number;
  notifyInitialBackoffMs: number;
  notifyMaxBackoffMs: number;
  notifyAlertAfterMs: number;
  lateSuccessPolicy: 'refund' | 'review';
}

/** The safety net under the per-payment workflows (Temporal Schedules created by the worker). */
export interface ReconcileConfig {
  /** Whether the worker creates (or updates) the schedules at start-up. */
  schedules: boolean;
  /** How often to look for orphaned payments and unacknowledged notifications. */
  intervalMs: number;
  /** Leave younger payments alone: their API request may still be starting the workflow. */
  minAgeMs: number;
  /** How often to compare the channel's statement with our table, and how far back. */
  statementIntervalMs: number;
  statementLookbackMs: number;
}

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  /** Where our servers listen (LISTEN_HOST). */
  listenHost: string;
  temporal: TemporalConfig;
  database: DatabaseConfig;
  /**
   * corsOrigins: browser origins (buyers' apps, the demo shop) allowed to read payment status and its stream.
   * codecCorsOrigins: the Temporal Web UI's origins, allowed to call the codec server (api/codec.ts) with credentials.
   */
  api: { port: number; publicUrl: string; adminApiKey: string; corsOrigins: string[]; codecCorsOrigins: string[] };
  /** The payment channels this deployment speaks, each present only when enabled; the registry is built from it. */
  channels: ChannelsConfig;
  sandbox: SandboxConfig;
  /**
   * The order service: where it is, and the keys that sign our notifications to it (every key signs; the reference
   * order service accepts any of them). The secrets are never logged (the logger redacts signingKeys).
   */
  orders: { url: string; port: number; signingKeys: SigningKey[] };
  payments: PaymentPolicy;
  /** The keys of the payload codec (codec/data-converter.ts builds every client's and worker's data converter). */
  payloadEncryption: PayloadEncryptionConfig;
  reconcile: ReconcileConfig;
  /** A prebuilt workflow bundle (npm run build:workflows): the worker starts without bundling. */
  workflowBundlePath?: string;
  /** The worker's Prometheus endpoints: ours (prom-client) and the Temporal SDK's. 0 turns one off. */
  workerMetrics: { port: number; sdkPort: number };
  workerTuning: WorkerTuning;
  stack: StackConfig;
}

/** SandboxPay, our simulated wallet channel: where it is, who we are there, the HMAC secret of its callbacks. */
export interface SandboxPayChannelConfig {
  url: string;
  merchantId: string;
  secret: string;
  /** Per-request timeout towards the channel. */
  timeoutMs: number;
}

/** Stripe: the API (or its double), our keys and the webhook endpoint's signing secret. */
export interface StripeChannelConfig {
  apiUrl: string;
  /** sk_/rk_ key: the adapter's credential; never logged. */
  secretKey: string;
  /** whsec_ secret of our webhook endpoint; never logged. */
  webhookSecret: string;
  /** Handed to the buyer's browser with the client secret (Stripe.js needs it). */
  publishableKey?: string;
  timeoutMs: number;
  /** Base URL of the demo buyer page; when set, hand-offs carry a pageUrl there. */
  checkoutUrl?: string;
  /** Webhook timestamp tolerance in seconds; default 300 (Stripe's). */
  webhookToleranceS?: number;
}

export interface ChannelsConfig {
  sandboxpay?: SandboxPayChannelConfig;
  stripe?: StripeChannelConfig;
  wechatpay?: WechatPayChannelConfig;
  alipay?: AlipayChannelConfig;
}

// ---- WeChat Pay v3 -----------------------------------------------------------------------------------------------

/** WeChat Pay v3, direct merchant: who we are, our signing key, the platform's keys, the API v3 key (PEMs read). */
export interface WechatPayChannelConfig {
  apiUrl: string;
  mchId: string;
  appId: string;
  merchantSerial: string;
  /** PEM; never logged (the logger redacts privateKey and apiV3Key). */
  privateKey: string;
  apiV3Key: string;
  /** Platform certificates (PEM), for the certificate mode. */
  platformCertificates: string[];
  /** The "WeChat Pay public key" (PEM) and its id, for the public-key mode. */
  publicKey?: { id: string; pem: string };
  timeoutMs: number;
  /** How long after a China day ends its trade bill is out (0: at once, as the emulator serves it). */
  billDelayMs: number;
}

/** The emulator's side of the same keys: the platform's private key, and the merchant's public key to check with. */
export interface WechatPayEmulatorConfig {
  port: number;
  /** Base URL of its wallet pages; default http://localhost:<port>. */
  publicUrl: string;
  mchId: string;
  appId: string;
  apiV3Key: string;
  merchantSerial: string;
  merchantPublicKey: string;
  platformPrivateKey: string;
  /** The certificate mode when WECHATPAY_PUBLIC_KEY_ID is unset: the first platform certificate. */
  platform: { mode: 'certificate'; certificatePem: string } | { mode: 'public_key'; publicKeyId: string };
}

type WechatPayKeys = { channel?: WechatPayChannelConfig; emulator?: WechatPayEmulatorConfig };

/** Reads and checks the WeChat Pay variables and files; one problem line per missing or unreadable one. */
function wechatPayConfig(env: Env, problems: string[]): WechatPayKeys {
  const read = (name: keyof Env, path: string | undefined): string | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };
  /** A PEM that parses as `kind`, or a problem line naming the variable (never the key). */
  const pem = (name: keyof Env, text: string | undefined, parse: (pem: string) => unknown): string | undefined => {
    if (text === undefined) return undefined;
    try {
      parse(text);
      return text;
    } catch {
      problems.push(`${name}: is not a readable PEM`);
      return undefined;
    }
  };
  const result: WechatPayKeys = {};

  if (env.WECHATPAY_ENABLED) {
    const before = problems.length;
    for (const name of [
      'WECHATPAY_MCHID',
      'WECHATPAY_APPID',
      'WECHATPAY_MERCHANT_SERIAL',
      'WECHATPAY_API_V3_KEY',
    ] as const) {
      if (!env[name]) problems.push(`${name}: required when WECHATPAY_ENABLED=true`);
    }
    if (!env.WECHATPAY_MERCHANT_PRIVATE_KEY === !env.WECHATPAY_MERCHANT_PRIVATE_KEY_FILE) {
      problems.push(
        'WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: set it (or WECHATPAY_MERCHANT_PRIVATE_KEY, the PEM itself), exactly one',
      );
    }
    if (!env.WECHATPAY_PLATFORM_CERT_FILES && !env.WECHATPAY_PUBLIC_KEY_FILE) {
      problems.push(
        'WECHATPAY_PUBLIC_KEY_FILE: set it with WECHATPAY_PUBLIC_KEY_ID, or WECHATPAY_PLATFORM_CERT_FILES (the platform key)',
      );
    }
    if (Boolean(env.WECHATPAY_PUBLIC_KEY_FILE) !== Boolean(env.WECHATPAY_PUBLIC_KEY_ID)) {
      problems.push('WECHATPAY_PUBLIC_KEY_ID: set it together with WECHATPAY_PUBLIC_KEY_FILE');
    }
    if (
      env.NODE_ENV === 'production' &&
      env.WECHATPAY_API_V3_KEY &&
      Buffer.byteLength(env.WECHATPAY_API_V3_KEY) !== 32
    ) {
      problems.push('WECHATPAY_API_V3_KEY: must be 32 bytes in production');
    }
    const privateKey = pem(
      env.WECHATPAY_MERCHANT_PRIVATE_KEY ? 'WECHATPAY_MERCHANT_PRIVATE_KEY' : 'WECHATPAY_MERCHANT_PRIVATE_KEY_FILE',
      env.WECHATPAY_MERCHANT_PRIVATE_KEY ??
        read('WECHATPAY_MERCHANT_PRIVATE_KEY_FILE', env.WECHATPAY_MERCHANT_PRIVATE_KEY_FILE),
      createPrivateKey,
    );
    const certificates = (env.WECHATPAY_PLATFORM_CERT_FILES ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean)
      .map((file) =>
        pem(
          'WECHATPAY_PLATFORM_CERT_FILES',
          read('WECHATPAY_PLATFORM_CERT_FILES', file),
          (t) => new X509Certificate(t),
        ),
      );
    const publicKeyPem = pem(
      'WECHATPAY_PUBLIC_KEY_FILE',
      read('WECHATPAY_PUBLIC_KEY_FILE', env.WECHATPAY_PUBLIC_KEY_FILE),
      createPublicKey,
    );
    if (problems.length === before) {
      result.channel = {
        apiUrl: env.WECHATPAY_API_URL,
        mchId: env.WECHATPAY_MCHID!,
        appId: env.WECHATPAY_APPID!,
        merchantSerial: env.WECHATPAY_MERCHANT_SERIAL!.toUpperCase(),
        privateKey: privateKey!,
        apiV3Key: env.WECHATPAY_API_V3_KEY!,
        platformCertificates: certificates as string[],
        ...(publicKeyPem && env.WECHATPAY_PUBLIC_KEY_ID
          ? { publicKey: { id: env.WECHATPAY_PUBLIC_KEY_ID, pem: publicKeyPem } }
          : {}),
        timeoutMs: env.WECHATPAY_TIMEOUT ?? env.CHANNEL_TIMEOUT,
        billDelayMs: env.WECHATPAY_BILL_DELAY,
      };
    }
  }

  if (env.WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE) {
    const before = problems.length;
    for (const name of [
      'WECHATPAY_MCHID',
      'WECHATPAY_APPID',
      'WECHATPAY_MERCHANT_SERIAL',
      'WECHATPAY_API_V3_KEY',
      'WECHATPAY_EMULATOR_MERCHANT_PUBLIC_KEY_FILE',
    ] as const) {
      if (!env[name]) problems.push(`${name}: required by the WeChat Pay emulator (its platform key is set)`);
    }
    const platformPrivateKey = pem(
      'WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE',
      read('WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE', env.WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE),
      createPrivateKey,
    );
    const merchantPublicKey = pem(
      'WECHATPAY_EMULATOR_MERCHANT_PUBLIC_KEY_FILE',
      read('WECHATPAY_EMULATOR_MERCHANT_PUBLIC_KEY_FILE', env.WECHATPAY_EMULATOR_MERCHANT_PUBLIC_KEY_FILE),
      createPublicKey,
    );
    const firstCert = env.WECHATPAY_PLATFORM_CERT_FILES?.split(',')[0]?.trim();
    if (!env.WECHATPAY_PUBLIC_KEY_ID && !firstCert) {
      problems.push("WECHATPAY_PUBLIC_KEY_ID: the emulator signs as it, or as WECHATPAY_PLATFORM_CERT_FILES's first");
    }
    const certificatePem = env.WECHATPAY_PUBLIC_KEY_ID
      ? undefined
      : pem(
          'WECHATPAY_PLATFORM_CERT_FILES',
          read('WECHATPAY_PLATFORM_CERT_FILES', firstCert),
          (t) => new X509Certificate(t),
        );
    if (problems.length === before) {
      result.emulator = {
        port: env.WECHATPAY_EMULATOR_PORT,
        publicUrl: env.WECHATPAY_EMULATOR_PUBLIC_URL ?? `http://localhost:${env.WECHATPAY_EMULATOR_PORT}`,
        mchId: env.WECHATPAY_MCHID!,
        appId: env.WECHATPAY_APPID!,
        apiV3Key: env.WECHATPAY_API_V3_KEY!,
        merchantSerial: env.WECHATPAY_MERCHANT_SERIAL!.toUpperCase(),
        merchantPublicKey: merchantPublicKey!,
        platformPrivateKey: platformPrivateKey!,
        platform: env.WECHATPAY_PUBLIC_KEY_ID
          ? { mode: 'public_key', publicKeyId: env.WECHATPAY_PUBLIC_KEY_ID }
          : { mode: 'certificate', certificatePem: certificatePem! },
      };
    }
  }
  return result;
}
// ---- end WeChat Pay ----------------------------------------------------------------------------------------------

// ---- Alipay (issue 12) ---------------------------------------------------------------------------------------

/**
 * Alipay through the OpenAPI v2 gateway. Keys are KeyObjects, never PEM text: a KeyObject serializes as {}, so
 * logging a configuration (or an adapter holding one) cannot print a private key.
 */
export interface AlipayChannelConfig {
  gateway: string;
  appId: string;
  /** Our Alipay account (pid): notifications must name it as seller_id. */
  sellerId: string;
  appPrivateKey: KeyObject;
  alipayPublicKey: KeyObject;
  /** Per-request timeout towards the gateway. */
  timeoutMs: number;
  /** How long after a China day ends its bill is out (0: at once, as the emulator serves it). */
  billDelayMs: number;
  /** How long a precreated QR code stays payable (timeout_express): the payment expiry, in whole minutes. */
  qrTimeoutMinutes: number;
}

/** The Alipay emulator: where it listens, the app it serves, and both keys it needs. */
export interface AlipayEmulatorConfig {
  port: number;
  /** Where buyers reach its wallet page (the QR codes' content) and bill downloads. */
  publicUrl: string;
  appId: string;
  sellerId: string;
  alipayPrivateKey: KeyObject;
  appPublicKey: KeyObject;
}

/** A key from its variable or its _FILE variant (exactly one), as text; problems are reported by name. */
function keyText(
  env: Env,
  name: 'ALIPAY_APP_PRIVATE_KEY' | 'ALIPAY_PUBLIC_KEY',
  problems: string[],
): string | undefined {
  const inline = env[name];
  const file = env[`${name}_FILE`];
  if (inline && file) {
    problems.push(`${name}: set it or ${name}_FILE, not both`);
    return undefined;
  }
  if (file) return readKeyFile(`${name}_FILE`, file, problems);
  return inline;
}

function readKeyFile(name: string, path: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** PEM, or the bare base64 body Alipay's key tool prints (PKCS#8 or PKCS#1); RSA of at least 2048 bits. */
function rsaKey(text: string, kind: 'private' | 'public'): KeyObject | undefined {
  const trimmed = text.trim();
  const candidates = trimmed.includes('-----BEGIN')
    ? [trimmed]
    : (kind === 'private' ? ['PRIVATE KEY', 'RSA PRIVATE KEY'] : ['PUBLIC KEY', 'RSA PUBLIC KEY']).map(
        (label) => `-----BEGIN ${label}-----\n${trimmed.replace(/\s+/g, '')}\n-----END ${label}-----`,
      );
  for (const pem of candidates) {
    try {
      const key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
      if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) return key;
    } catch {
      // the next form, if any
    }
  }
  return undefined;
}

/** The Alipay variables, checked together: one line per problem, never a key's content. */
function alipayChannel(env: Env, problems: string[]): AlipayChannelConfig | undefined {
  if (!env.ALIPAY_ENABLED) return undefined;
  const before = problems.length;
  for (const name of ['ALIPAY_APP_ID', 'ALIPAY_SELLER_ID'] as const) {
    if (!env[name]) problems.push(`${name}: required when ALIPAY_ENABLED=true`);
  }
  const privateText = keyText(env, 'ALIPAY_APP_PRIVATE_KEY', problems);
  const publicText = keyText(env, 'ALIPAY_PUBLIC_KEY', problems);
  let appPrivateKey: KeyObject | undefined;
  let alipayPublicKey: KeyObject | undefined;
  if (privateText === undefined) {
    if (!env.ALIPAY_APP_PRIVATE_KEY_FILE) {
      problems.push('ALIPAY_APP_PRIVATE_KEY: required when ALIPAY_ENABLED=true (or ALIPAY_APP_PRIVATE_KEY_FILE)');
    }
  } else if (!(appPrivateKey = rsaKey(privateText, 'private'))) {
    problems.push(
      'ALIPAY_APP_PRIVATE_KEY: not an RSA private key of 2048 bits or more (PKCS#1 or PKCS#8, PEM or base64)',
    );
  }
  if (publicText === undefined) {
    if (!env.ALIPAY_PUBLIC_KEY_FILE) {
      problems.push('ALIPAY_PUBLIC_KEY: required when ALIPAY_ENABLED=true (or ALIPAY_PUBLIC_KEY_FILE)');
    }
  } else if (!(alipayPublicKey = rsaKey(publicText, 'public'))) {
    problems.push('ALIPAY_PUBLIC_KEY: not an RSA public key of 2048 bits or more (PEM or base64)');
  }
  // The usual mistake: the app's own public key pasted where Alipay's belongs. Every reply would then fail to verify.
  if (
    appPrivateKey &&
    alipayPublicKey &&
    createPublicKey(appPrivateKey)
      .export({ type: 'spki', format: 'der' })
      .equals(alipayPublicKey.export({ type: 'spki', format: 'der' }))
  ) {
    problems.push("ALIPAY_PUBLIC_KEY: is the app's own public key; it must be Alipay's public key");
  }
  if (env.NODE_ENV === 'production' && !env.ALIPAY_GATEWAY.startsWith('https://')) {
    problems.push('ALIPAY_GATEWAY: must be https in production');
  }
  if (problems.length > before || !appPrivateKey || !alipayPublicKey) return undefined;
  return {
    gateway: env.ALIPAY_GATEWAY,
    appId: env.ALIPAY_APP_ID!,
    sellerId: env.ALIPAY_SELLER_ID!,
    appPrivateKey,
    alipayPublicKey,
    timeoutMs: env.ALIPAY_TIMEOUT ?? env.CHANNEL_TIMEOUT,
    billDelayMs: env.ALIPAY_BILL_DELAY,
    qrTimeoutMinutes: Math.max(1, Math.ceil(env.PAYMENT_EXPIRY / 60_000)),
  };
}

/** The emulator's settings, when both its key files are given. */
function alipayEmulator(env: Env, problems: string[]): AlipayEmulatorConfig | undefined {
  const { ALIPAY_EMULATOR_PRIVATE_KEY_FILE: privateFile, ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE: publicFile } = env;
  if (!privateFile && !publicFile) return undefined;
  if (!privateFile || !publicFile) {
    problems.push('ALIPAY_EMULATOR_PRIVATE_KEY_FILE: set it together with ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE');
    return undefined;
  }
  const privateText = readKeyFile('ALIPAY_EMULATOR_PRIVATE_KEY_FILE', privateFile, problems);
  const publicText = readKeyFile('ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE', publicFile, problems);
  const alipayPrivateKey = privateText === undefined ? undefined : rsaKey(privateText, 'private');
  const appPublicKey = publicText === undefined ? undefined : rsaKey(publicText, 'public');
  if (privateText !== undefined && !alipayPrivateKey) {
    problems.push('ALIPAY_EMULATOR_PRIVATE_KEY_FILE: not an RSA private key of 2048 bits or more');
  }
  if (publicText !== undefined && !appPublicKey) {
    problems.push('ALIPAY_EMULATOR_APP_PUBLIC_KEY_FILE: not an RSA public key of 2048 bits or more');
  }
  for (const name of ['ALIPAY_APP_ID', 'ALIPAY_SELLER_ID'] as const) {
    if (!env[name]) problems.push(`${name}: required by the Alipay emulator (the app and account it serves)`);
  }
  if (!alipayPrivateKey || !appPublicKey || !env.ALIPAY_APP_ID || !env.ALIPAY_SELLER_ID) return undefined;
  return {
    port: env.ALIPAY_EMULATOR_PORT,
    publicUrl: env.ALIPAY_EMULATOR_PUBLIC_URL ?? `http://localhost:${env.ALIPAY_EMULATOR_PORT}`,
    appId: env.ALIPAY_APP_ID,
    sellerId: env.ALIPAY_SELLER_ID,
    alipayPrivateKey,
    appPublicKey,
  };
}
// ---- end Alipay ----------------------------------------------------------------------------------------------

/** A shared HMAC key of the order-service notifications (activities/order-signature.ts signs and verifies with it). */
export interface SigningKey {
  id: string;
  secret: string;
}

/**
 * Bits of Shannon entropy of a text taken as its own sample: a rough estimate that catches placeholders (one character
 * repeated, "passwordpassword..."), not a proof of randomness. 32 random hex characters score about 95 to 125.
 */
function entropyBits(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  const n = [...text].length;
  let perChar = 0;
  for (const count of counts.values()) perChar -= (count / n) * Math.log2(count / n);
  return perChar * n;
}

export const ORDER_NOTIFY_KEY_RULES = { minLength: 32, minEntropyBits: 90, maxKeys: 2 } as const;

/**
 * ORDER_NOTIFY_SIGNING_KEYS: `keyId:secret`, or two of them comma-separated during a rotation. Problems name the key
 * by its id and position, never its secret.
 */
function orderNotifyKeys(text: string, production: boolean, problems: string[]): SigningKey[] {
  const name = 'ORDER_NOTIFY_SIGNING_KEYS';
  const { minLength, minEntropyBits, maxKeys } = ORDER_NOTIFY_KEY_RULES;
  const entries = text.split(',').map((e) => e.trim());
  if (entries.length > maxKeys) {
    problems.push(`${name}: at most ${maxKeys} keys (the current one, and the next or previous during a rotation)`);
    return [];
  }
  const keys: SigningKey[] = [];
  const before = problems.length;
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const secret = colon > 0 ? entry.slice(colon + 1) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id) || secret === '') {
      problems.push(`${name}: entry ${i + 1} must be keyId:secret (keyId of letters, digits, . _ -)`);
      continue;
    }
    if (secret.length < minLength) {
      problems.push(`${name}: key "${id}" must be at least ${minLength} characters`);
    } else if (entropyBits(secret) < minEntropyBits) {
      problems.push(`${name}: key "${id}" looks guessable; use ${minLength}+ random characters (openssl rand -hex 32)`);
    }
    if (keys.some((k) => k.id === id)) problems.push(`${name}: key id "${id}" is listed twice`);
    if (keys.some((k) => k.secret === secret)) problems.push(`${name}: key "${id}" has the same secret as another`);
    // The secret decides, whatever id it is listed under.
    if (production && secret === DEV_ORDER_NOTIFY_KEYS.slice(DEV_ORDER_NOTIFY_KEYS.indexOf(':') + 1)) {
      problems.push(`${name}: required in production (the development key is refused)`);
    }
    keys.push({ id, secret });
  }
  return problems.length > before ? [] : keys;
}

export interface LoadOptions {
  /** Variables this process cannot run without (e.g. the worker needs DATABASE_URL). */
  require?: (keyof Env)[];
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Config {
  // Empty strings count as unset, so `FOO= npm start` behaves like not setting FOO.
  const raw = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`));
  }
  const env = parsed.data;
  const problems: string[] = [];
  for (const name of options.require ?? []) {
    if (raw[name] === undefined) problems.push(`${name}: required by this process but not set`);
  }
  if (env.NODE_ENV === 'production') {
    if (env.SANDBOXPAY_ENABLED && env.SANDBOXPAY_SECRET === DEV_CHANNEL_SECRET) {
      problems.push('SANDBOXPAY_SECRET: required in production (or SANDBOXPAY_ENABLED=false)');
    }
    if (env.ADMIN_API_KEY === DEV_ADMIN_API_KEY) problems.push('ADMIN_API_KEY: required in production');
  }
  if (Boolean(env.TEMPORAL_TLS_CERT_PATH) !== Boolean(env.TEMPORAL_TLS_KEY_PATH)) {
    problems.push('TEMPORAL_TLS_CERT_PATH: set it together with TEMPORAL_TLS_KEY_PATH (mTLS needs both)');
  }
  if (env.ORDER_NOTIFY_MAX_BACKOFF < env.ORDER_NOTIFY_INITIAL_BACKOFF) {
    problems.push('ORDER_NOTIFY_MAX_BACKOFF: must not be shorter than ORDER_NOTIFY_INITIAL_BACKOFF');
  }
  // --- Stripe ---
  if (env.STRIPE_ENABLED) {
    if (!env.STRIPE_SECRET_KEY) problems.push('STRIPE_SECRET_KEY: required when STRIPE_ENABLED=true');
    if (!env.STRIPE_WEBHOOK_SECRET) problems.push('STRIPE_WEBHOOK_SECRET: required when STRIPE_ENABLED=true');
    const mode = (key: string | undefined) => /^[a-z]+_(test|live)_/.exec(key ?? '')?.[1];
    if (
      env.STRIPE_PUBLISHABLE_KEY &&
      env.STRIPE_SECRET_KEY &&
      mode(env.STRIPE_PUBLISHABLE_KEY) !== mode(env.STRIPE_SECRET_KEY)
    ) {
      problems.push("STRIPE_PUBLISHABLE_KEY: its mode (test/live) differs from STRIPE_SECRET_KEY's");
    }
  }
  // --- end Stripe ---
  // ---- WeChat Pay ----
  const wechatpay = wechatPayConfig(env, problems);
  // ---- end WeChat Pay ----
  if (!env.SANDBOXPAY_ENABLED && !env.WECHATPAY_ENABLED && !env.STRIPE_ENABLED && !env.ALIPAY_ENABLED) {
    problems.push('SANDBOXPAY_ENABLED: no payment channel is enabled; enable at least one');
  }
  const alipay = alipayChannel(env, problems); // Alipay (issue 12)
  const alipaySandbox = alipayEmulator(env, problems); // Alipay (issue 12)
  const signingKeys = orderNotifyKeys(env.ORDER_NOTIFY_SIGNING_KEYS, env.NODE_ENV === 'production', problems);
  const payloadEncryption = payloadEncryptionConfig(env, env.NODE_ENV === 'production', problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const useTls = env.TEMPORAL_TLS || Boolean(env.TEMPORAL_TLS_CERT_PATH) || Boolean(env.TEMPORAL_API_KEY);
  return {
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    listenHost: env.LISTEN_HOST,
    temporal: {
      address: env.TEMPORAL_ADDRESS ?? `localhost:${env.TEMPORAL_PORT}`,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      ...(useTls
        ? { tls: { clientCertPath: env.TEMPORAL_TLS_CERT_PATH, clientKeyPath: env.TEMPORAL_TLS_KEY_PATH } }
        : {}),
      ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
      uiPort: env.TEMPORAL_UI_PORT,
    },
    database: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX, embeddedPort: env.EMBEDDED_DB_PORT },
    api: {
      port: env.API_PORT,
      publicUrl: env.API_PUBLIC_URL ?? `http://localhost:${env.API_PORT}`,
      adminApiKey: env.ADMIN_API_KEY,
      corsOrigins: (env.API_CORS_ORIGINS ?? `http://localhost:${env.ORDER_SERVICE_PORT}`)
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      // The Web UI is reached by whichever name was typed: both loopback names by default.
      codecCorsOrigins: env.CODEC_CORS_ORIGINS ?? [
        `http://localhost:${env.TEMPORAL_UI_PORT}`,
        `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`,
      ],
    },
    channels: {
      ...(env.SANDBOXPAY_ENABLED
        ? {
            sandboxpay: {
              url: env.SANDBOXPAY_URL ?? `http://localhost:${env.SANDBOX_PORT}`,
              merchantId: env.SANDBOXPAY_MERCHANT_ID,
              secret: env.SANDBOXPAY_SECRET,
              timeoutMs: env.CHANNEL_TIMEOUT,
            },
          }
        : {}),
      // --- Stripe ---
      ...(env.STRIPE_ENABLED && env.STRIPE_SECRET_KEY && env.STRIPE_WEBHOOK_SECRET
        ? {
            stripe: {
              apiUrl: env.STRIPE_API_URL,
              secretKey: env.STRIPE_SECRET_KEY,
              webhookSecret: env.STRIPE_WEBHOOK_SECRET,
              ...(env.STRIPE_PUBLISHABLE_KEY ? { publishableKey: env.STRIPE_PUBLISHABLE_KEY } : {}),
              timeoutMs: env.STRIPE_TIMEOUT ?? env.CHANNEL_TIMEOUT,
              ...(env.STRIPE_CHECKOUT_URL ? { checkoutUrl: env.STRIPE_CHECKOUT_URL } : {}),
            },
          }
        : {}),
      // --- end Stripe ---
      ...(wechatpay.channel ? { wechatpay: wechatpay.channel } : {}),
      ...(alipay ? { alipay } : {}), // Alipay (issue 12)
    },
    sandbox: {
      sandboxpay: {
        port: env.SANDBOX_PORT,
        url: env.SANDBOXPAY_URL ?? `http://localhost:${env.SANDBOX_PORT}`,
        merchantId: env.SANDBOXPAY_MERCHANT_ID,
        secret: env.SANDBOXPAY_SECRET,
      },
      ...(wechatpay.emulator ? { wechatpay: wechatpay.emulator } : {}),
      ...(alipaySandbox ? { alipay: alipaySandbox } : {}), // Alipay (issue 12)
      publicUrl: env.SANDBOX_PUBLIC_URL ?? env.SANDBOXPAY_URL ?? `http://localhost:${env.SANDBOX_PORT}`,
      shopApiUrl: env.SHOP_API_URL ?? env.API_PUBLIC_URL ?? `http://localhost:${env.API_PORT}`,
      seed: env.SANDBOX_SEED,
      callbackRetryScale: env.SANDBOX_CALLBACK_RETRY_SCALE,
      faults: {
        callbackDropRate: env.SANDBOX_CALLBACK_DROP_RATE,
        callbackDuplicateRate: env.SANDBOX_CALLBACK_DUPLICATE_RATE,
        callbackDelayRate: env.SANDBOX_CALLBACK_DELAY_RATE,
        callbackDelayMaxMs: env.SANDBOX_CALLBACK_DELAY_MAX_MS,
        queryErrorRate: env.SANDBOX_QUERY_ERROR_RATE,
        queryTimeoutRate: env.SANDBOX_QUERY_TIMEOUT_RATE,
        queryLatencyMs: env.SANDBOX_QUERY_LATENCY_MS,
        stuckPendingRate: env.SANDBOX_STUCK_PENDING_RATE,
        closeRacePayRate: env.SANDBOX_CLOSE_RACE_PAY_RATE,
        lateSettleRate: env.SANDBOX_LATE_SETTLE_RATE,
      },
      orderFaults: { errorRate: env.ORDER_SERVICE_ERROR_RATE, latencyMs: env.ORDER_SERVICE_LATENCY_MS },
    },
    orders: {
      url: env.ORDER_SERVICE_URL ?? `http://localhost:${env.ORDER_SERVICE_PORT}`,
      port: env.ORDER_SERVICE_PORT,
      signingKeys,
    },
    payments: {
      querySchedule: env.PAYMENT_QUERY_SCHEDULE,
      expiryMs: env.PAYMENT_EXPIRY,
      lateWindowMs: env.LATE_CALLBACK_WINDOW,
      notifyInitialBackoffMs: env.ORDER_NOTIFY_INITIAL_BACKOFF,
      notifyMaxBackoffMs: env.ORDER_NOTIFY_MAX_BACKOFF,
      notifyAlertAfterMs: env.ORDER_NOTIFY_ALERT_AFTER,
      lateSuccessPolicy: env.LATE_SUCCESS_POLICY,
    },
    payloadEncryption,
    reconcile: {
      schedules: env.RECONCILE_SCHEDULES,
      intervalMs: env.RECONCILE_INTERVAL,
      minAgeMs: env.RECONCILE_MIN_AGE,
      statementIntervalMs: env.STATEMENT_INTERVAL,
      statementLookbackMs: env.STATEMENT_LOOKBACK,
    },
    ...(env.WORKFLOW_BUNDLE_PATH ? { workflowBundlePath: env.WORKFLOW_BUNDLE_PATH } : {}),
    workerMetrics: { port: env.WORKER_METRICS_PORT, sdkPort: env.TEMPORAL_SDK_METRICS_PORT },
    workerTuning: {
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentWorkflowTasks: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxConcurrentActivities: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentLocalActivities: env.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES,
      pollerAutoscaling: env.WORKER_POLLER_AUTOSCALING,
    },
    stack: {
      embedTemporal: env.TEMPORAL_ADDRESS === undefined,
      temporalPort: env.TEMPORAL_PORT,
      embedDatabase: env.DATABASE_URL === undefined,
      dataDir: stackDataDir(env.STACK_DATA_DIR),
      doublePorts: {
        wechatpay: env.WECHATPAY_EMULATOR_PORT,
        alipay: env.ALIPAY_EMULATOR_PORT,
        localstripe: env.LOCALSTRIPE_PORT,
      },
    },
  };
}

/** STACK_DATA_DIR: default <project>/.data; a relative path is taken from the current directory. */
function stackDataDir(value: string | undefined): string {
  return value === undefined ? join(__dirname, '..', '.data') : resolve(value);
}

/** For process entry points: load, or print the problems and exit 1 (never a stack trace for bad config). */
export function loadConfigOrExit(options: LoadOptions = {}): Config {
  try {
    return loadConfig(process.env, options);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
