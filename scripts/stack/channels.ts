// The real channels' doubles for a stack on this machine (`npm start`, the chaos run, the benchmark): development
// keys made once under the data directory, the variables that enable each adapter against its double, and
// localstripe as a supervised process whose webhook endpoint is registered again each time it (re)starts. WeChat
// Pay's and Alipay's emulators run inside the sandbox process (sandbox/main.ts), on ports of their own.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalstripe } from './localstripe';
import type { ChildSpec } from './supervisor';

export interface StripeDevKeys {
  secretKey: string;
  publishableKey: string;
  webhookSecret: string;
}

/** Stripe test-mode keys for localstripe (it takes any sk_test_ key), kept so every restart agrees on them. */
export function stripeDevKeys(keysDir: string): StripeDevKeys {
  const file = join(keysDir, 'stripe.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as StripeDevKeys;
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const tail = randomBytes(12).toString('hex');
  const keys = {
    secretKey: `sk_test_${tail}`,
    publishableKey: `pk_test_${tail}`,
    webhookSecret: `whsec_${randomBytes(24).toString('hex')}`,
  };
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
