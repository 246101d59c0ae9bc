// The Stripe channel's test double for the tests: localstripe (through scripts/stack/localstripe.ts) and the demo's
// buyer page (sandbox/stripe/checkout.ts) on a port of its own, plus what a test needs to play the buyer and to
// point localstripe's webhooks somewhere.
import express from 'express';
import pino, { type Logger } from 'pino';
import { createStripeCheckoutRouter } from '../../sandbox/stripe/checkout';
import { type Localstripe, startLocalstripe, stripeEnv, testKeys } from '../../scripts/stack/localstripe';
import { readToolchain } from '../../scripts/stack/toolchain';
import { listen } from './http';
import type { ChannelDouble } from './stack';

export interface StripeDouble {
  localstripe: Localstripe;
  webhookSecret: string;
  /** Base URL of the buyer page (STRIPE_CHECKOUT_URL). */
  checkoutUrl: string;
  /** The variables that enable and configure our adapter against this double. */
  env: Record<string, string>;
  /** The buyer on the checkout page: pay with the test card, or have it declined. */
  buyer(pageUrl: string, action: 'pay' | 'decline'): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startStripeDouble(logger: Logger = pino({ level: 'silent' })): Promise<StripeDouble> {
  const python = readToolchain().localstripe;
  if (!python) throw new Error('localstripe is not installed: run node scripts/bootstrap.mjs test');
  const verbose = process.env.TEST_LOG_LEVEL === 'debug';
  const localstripe = await startLocalstripe({
    python,
    verbose,
    ...(verbose ? { onOutput: (line: string) => logger.debug({ localstripe: line }) } : {}),
  });
  const { webhookSecret } = testKeys();
  const app = express();
  app.use(createStripeCheckoutRouter({ apiUrl: localstripe.url, secretKey: localstripe.secretKey, logger }));
  const checkout = await listen(app);
  return {
    localstripe,
    webhookSecret,
    checkoutUrl: checkout.url,
    env: stripeEnv(localstripe, webhookSecret, { checkoutUrl: checkout.url }),
    async buyer(pageUrl, action) {
      const url = new URL(pageUrl);
      const res = await fetch(`${url.origin}${url.pathname}/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_secret: url.searchParams.get('client_secret') }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async stop() {
      await checkout.close();
      await localstripe.stop();
    },
  };
}

/** A Stack channel double; `holder.current` is the started double, for the test to act on. */
export function stripeChannelDouble(holder: { current?: StripeDouble }): ChannelDouble {
  return async (logger) => {
    const double = await startStripeDouble(logger);
    holder.current = double;
    return { env: double.env, stop: double.stop };
  };
}
