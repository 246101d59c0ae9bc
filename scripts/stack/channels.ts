// The real channels' doubles for a stack on this machine (`npm start`, the chaos run, the benchmark): development
// keys made once under the data directory, the variables that enable each adapter against its double, and
// localstripe as a supervised process whose webhook endpoint is registered again each time it (re)starts. WeChat
// Pay's and Alipay's emulators run inside the sandbox process (sandbox/main.ts), on ports of their own.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAlipayDevKeys } from '../../sandbox/alipay/dev-keys';
import { ensureWechatPayDevKeys } from '../../sandbox/wechatpay/dev-keys';
import { startLocalstripe, stripeEnv, testKeys } from './localstripe';
import type { ChildSpec } from './supervisor';

export type StripeDevKeys = ReturnType<typeof testKeys>;

/** Stripe test-mode keys for localstripe (it takes any sk_test_ key), kept so every restart agrees on them. */
export function stripeDevKeys(keysDir: string): StripeDevKeys {
  const file = join(keysDir, 'stripe.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as StripeDevKeys;
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const keys = testKeys();
  writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  return keys;
}

export interface LocalstripeChildOptions {
  python: string;
  port: number;
  /** Its store (pickle); kept between runs. */
  storeFile?: string;
  /** Where its webhooks go (our API's /callbacks/stripe, or a fault proxy in front of it). */
  webhookUrl: string;
  webhookSecret: string;
}

/** localstripe as a supervised child: ready once it answers and its webhook endpoint is (again) registered. */
export function localstripeChild(options: LocalstripeChildOptions, name = 'localstripe'): ChildSpec {
  return {
    name,
    spawn: async ({ output, spawned }) => {
      const started = await startLocalstripe({
        python: options.python,
        port: options.port,
        ...(options.storeFile ? { storeFile: options.storeFile } : {}),
        onOutput: (line) => output(line),
        onSpawn: spawned,
        detached: true,
      });
      await started.registerWebhook('payments-api', options.webhookUrl, options.webhookSecret);
      return started.process;
    },
  };
}

export interface DevChannelPorts {
  wechatpay: number;
  alipay: number;
  localstripe: number;
}

export interface DevChannels {
  /** Variables to add to every service's environment (the adapters' and the emulators' configuration). */
  env: Record<string, string>;
  /** localstripe, when Stripe runs on it: the supervisor starts it before the API. */
  localstripe?: Omit<LocalstripeChildOptions, 'webhookUrl'>;
  /** The channels enabled on their doubles, for the banner. */
  enabled: string[];
}

/**
 * The real channels on their doubles, with development keys under `keysDir`, for each channel the user has not
 * configured (an explicit WECHATPAY_ENABLED / ALIPAY_ENABLED / STRIPE_ENABLED, true or false, is theirs to keep).
 */
export function devChannels(options: {
  keysDir: string;
  env: NodeJS.ProcessEnv;
  ports: DevChannelPorts;
  /** Where the Stripe test checkout page is served (the sandbox's SandboxPay server mounts it). */
  checkoutUrl: string;
  localstripePython: string | null | undefined;
  localstripeStore?: string;
}): DevChannels {
  const { env, ports } = options;
  const out: DevChannels = { env: {}, enabled: [] };
  if (env.WECHATPAY_ENABLED === undefined) {
    Object.assign(out.env, ensureWechatPayDevKeys(options.keysDir, { port: ports.wechatpay }));
    out.enabled.push('wechatpay');
  }
  if (env.ALIPAY_ENABLED === undefined) {
    Object.assign(out.env, ensureAlipayDevKeys(options.keysDir, { port: ports.alipay }));
    out.enabled.push('alipay');
  }
  if (env.STRIPE_ENABLED === undefined && options.localstripePython) {
    const keys = stripeDevKeys(options.keysDir);
    Object.assign(
      out.env,
      stripeEnv({ url: `http://127.0.0.1:${ports.localstripe}`, ...keys }, keys.webhookSecret, {
        checkoutUrl: options.checkoutUrl,
      }),
    );
    out.localstripe = {
      python: options.localstripePython,
      port: ports.localstripe,
      ...(options.localstripeStore ? { storeFile: options.localstripeStore } : {}),
      webhookSecret: keys.webhookSecret,
    };
    out.enabled.push('stripe');
  }
  return out;
}
