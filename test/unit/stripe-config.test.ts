// The Stripe channel's configuration: off unless enabled, its keys required together and checked by their prefixes,
// one line per problem; and its secrets never reach the logs.
import { Writable } from 'node:stream';
import pino from 'pino';
import { createChannels } from '../../channels';
import { loadConfig } from '../../config';
import { REDACT_PATHS } from '../../observability/logger';
import { problemsOf } from '../support/config-problems';

const KEYS = {
  STRIPE_SECRET_KEY: 'sk_test_51Habc123',
  STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef',
};

describe('Stripe configuration', () => {
  it('is off by default', () => {
    expect(loadConfig({}).channels.stripe).toBeUndefined();
  });

  it('builds the adapter configuration when enabled, with Stripe itself as the default API', () => {
    const config = loadConfig({ STRIPE_ENABLED: 'true', ...KEYS, CHANNEL_TIMEOUT: '3s' });
    expect(config.channels.stripe).toEqual({
      apiUrl: 'https://api.stripe.com',
      secretKey: KEYS.STRIPE_SECRET_KEY,
      webhookSecret: KEYS.STRIPE_WEBHOOK_SECRET,
      timeoutMs: 3000,
    });
    const local = loadConfig({
      STRIPE_ENABLED: 'true',
      ...KEYS,
      STRIPE_API_URL: 'http://127.0.0.1:8420',
      STRIPE_PUBLISHABLE_KEY: 'pk_test_51Habc123',
      STRIPE_TIMEOUT: '10s',
      STRIPE_CHECKOUT_URL: 'http://localhost:3100',
    }).channels.stripe;
    expect(local).toEqual({
      apiUrl: 'http://127.0.0.1:8420',
      secretKey: KEYS.STRIPE_SECRET_KEY,
      webhookSecret: KEYS.STRIPE_WEBHOOK_SECRET,
      publishableKey: 'pk_test_51Habc123',
      timeoutMs: 10_000,
      checkoutUrl: 'http://localhost:3100',
    });
    expect(Object.keys(createChannels({ channels: { stripe: local! } }, pino({ level: 'silent' })))).toEqual([
      'stripe',
    ]);
  });

  it('names each missing or malformed variable on a line of its own', () => {
    expect(problemsOf({ STRIPE_ENABLED: 'true' })).toEqual([
      'STRIPE_SECRET_KEY: required when STRIPE_ENABLED=true',
      'STRIPE_WEBHOOK_SECRET: required when STRIPE_ENABLED=true',
    ]);
    const bad = problemsOf({
      STRIPE_ENABLED: 'true',
      STRIPE_SECRET_KEY: 'pk_test_123',
      STRIPE_WEBHOOK_SECRET: 'secret',
      STRIPE_PUBLISHABLE_KEY: 'sk_test_123',
      STRIPE_API_URL: 'ftp://stripe',
    });
    expect(bad.map((p) => p.split(':')[0]).sort()).toEqual([
      'STRIPE_API_URL',
      'STRIPE_PUBLISHABLE_KEY',
      'STRIPE_SECRET_KEY',
      'STRIPE_WEBHOOK_SECRET',
    ]);
    expect(problemsOf({ STRIPE_ENABLED: 'true', ...KEYS, STRIPE_PUBLISHABLE_KEY: 'pk_live_51Habc' })).toEqual([
      "STRIPE_PUBLISHABLE_KEY: its mode (test/live) differs from STRIPE_SECRET_KEY's",
    ]);
    expect(
      loadConfig({ STRIPE_ENABLED: 'true', ...KEYS, STRIPE_SECRET_KEY: 'rk_live_51Habc' }).channels.stripe,
    ).toBeDefined();
  });

  it('counts as the one enabled channel a deployment needs', () => {
    const config = loadConfig({ SANDBOXPAY_ENABLED: 'false', STRIPE_ENABLED: 'true', ...KEYS });
    expect(Object.keys(config.channels)).toEqual(['stripe']);
  });

  it("keeps its keys and the buyer's client secret out of the logs", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const config = loadConfig({ STRIPE_ENABLED: 'true', ...KEYS }).channels.stripe!;
    pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink).info(
      { stripe: config, handoff: { kind: 'client_secret', clientSecret: 'pi_1_secret_2' } },
      'x',
    );
    const text = lines.join('');
    expect(text).not.toContain(KEYS.STRIPE_SECRET_KEY);
    expect(text).not.toContain(KEYS.STRIPE_WEBHOOK_SECRET);
    expect(text).not.toContain('pi_1_secret_2');
    expect(text).toContain('https://api.stripe.com');
  });
});
