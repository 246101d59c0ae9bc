// Runs localstripe (the Stripe channel's test double, PyPI) through scripts/stack/localstripe_main.py: bound to
// 127.0.0.1 on a free port, its store in memory or at a given path, its webhooks signed with our secret and sent to our
// callback URL. Used by the tests (a Stack's channel double) and by `npm start`.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from './net';
import { startReadyChild } from './ready-child';
import { projectRoot } from './toolchain';

export interface LocalstripeOptions {
  /** The Python that has localstripe installed (toolchain.json's `localstripe`). */
  python: string;
  /** Default: a free port. */
  port?: number;
  /** Pickle file for its store; omit to keep it in memory (gone when it stops). */
  storeFile?: string;
  /** Log requests and webhook deliveries (to onOutput). */
  verbose?: boolean;
  onOutput?: (line: string) => void;
  onSpawn?: (child: ChildProcess) => void;
  /** Its own process group (a supervisor's child: a terminal's Ctrl-C reaches only the launcher). */
  detached?: boolean;
}

export interface Localstripe {
  url: string;
  port: number;
  process: ChildProcess;
  /** Any sk_test_ key works at localstripe; this one is ours for the run. */
  secretKey: string;
  publishableKey: string;
  /**
   * Sends its events to `url`, signed with `secret` (Stripe-Signature, as Stripe's endpoints do). Each name is one
   * endpoint; registering the same name again replaces it. localstripe tries each delivery once (no retries).
   */
  registerWebhook(name: string, url: string, secret: string, events?: string[]): Promise<void>;
  stop(): Promise<void>;
}

export const LOCALSTRIPE_MAIN = join(projectRoot, 'scripts', 'stack', 'localstripe_main.py');

/** Keys of the form Stripe's test keys have: the adapter's configuration checks the prefixes. */
export function testKeys(): { secretKey: string; publishableKey: string; webhookSecret: string } {
  const tail = randomBytes(12).toString('hex');
  return {
    secretKey: `sk_test_${tail}`,
    publishableKey: `pk_test_${tail}`,
    webhookSecret: `whsec_${randomBytes(24).toString('hex')}`,
  };
}

export async function startLocalstripe(options: LocalstripeOptions): Promise<Localstripe> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const args = [LOCALSTRIPE_MAIN, '--port', String(port)];
  if (options.storeFile) args.push('--store', options.storeFile);
  if (options.verbose) args.push('--verbose');
  const { secretKey, publishableKey } = testKeys();
  const started = await startReadyChild({
    what: `localstripe on ${url}`,
    command: options.python,
    args,
    // Unbuffered: its log lines arrive as they happen, not when it exits.
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    detached: options.detached ?? false,
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    ready: async () => {
      const res = await fetch(`${url}/v1/balance`, {
        headers: { authorization: `Bearer ${secretKey}` },
        signal: AbortSignal.timeout(1000),
      });
      if (res.status !== 200) throw new Error(`GET /v1/balance answered HTTP ${res.status}`);
    },
    timeoutMs: 30_000,
    everyMs: 100,
    stopGraceMs: 5_000,
  });
  return {
    url,
    port,
    process: started.process,
    secretKey,
    publishableKey,
    async registerWebhook(name, target, secret, events) {
      const body = new URLSearchParams({ url: target, secret });
      for (const event of events ?? []) body.append('events[]', event);
      const res = await fetch(`${url}/_config/webhooks/${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(5000),
      });
      if (res.status !== 200) throw new Error(`localstripe refused webhook ${name}: HTTP ${res.status}`);
    },
    stop: started.stop,
  };
}

/** The variables that enable and configure our Stripe adapter against this localstripe. */
export function stripeEnv(
  localstripe: Pick<Localstripe, 'url' | 'secretKey' | 'publishableKey'>,
  webhookSecret: string,
  extra: { checkoutUrl?: string } = {},
): Record<string, string> {
  return {
    STRIPE_ENABLED: 'true',
    STRIPE_API_URL: localstripe.url,
    STRIPE_SECRET_KEY: localstripe.secretKey,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    STRIPE_PUBLISHABLE_KEY: localstripe.publishableKey,
    ...(extra.checkoutUrl ? { STRIPE_CHECKOUT_URL: extra.checkoutUrl } : {}),
  };
}
