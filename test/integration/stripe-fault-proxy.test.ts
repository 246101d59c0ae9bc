// The Stripe fault proxy in front of localstripe: queries fail or hang as the faults say (and the adapter calls it
// retryable), other calls pass; webhooks are dropped, duplicated or delayed, and what arrives still verifies.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { StripeChannel } from '../../channels/stripe';
import { ChannelUnavailableError } from '../../channels/types';
import { startStripeFaultProxy, type StripeFaultProxy } from '../../sandbox/stripe/fault-proxy';
import { startStripeDouble, type StripeDouble } from '../support/stripe';

describe('Stripe fault proxy', () => {
  const logger = pino({ level: 'silent' });
  let double: StripeDouble;
  let proxy: StripeFaultProxy;
  let channel: StripeChannel;
  let catcher: Server;
  const received: { at: number; raw: Buffer; signature: string }[] = [];

  beforeAll(async () => {
    double = await startStripeDouble(logger);
    catcher = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          at: Date.now(),
          raw: Buffer.concat(chunks),
          signature: String(req.headers['stripe-signature']),
        });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => catcher.listen(0, '127.0.0.1', r));
    proxy = await startStripeFaultProxy({
      upstream: double.localstripe.url,
      webhookTarget: `http://127.0.0.1:${(catcher.address() as AddressInfo).port}/callbacks/stripe`,
      seed: 'fault-proxy-test',
      logger,
    });
    await double.localstripe.registerWebhook('proxied', proxy.webhookUrl, double.webhookSecret);
    channel = new StripeChannel(
      {
        apiUrl: proxy.apiUrl,
        secretKey: double.localstripe.secretKey,
        webhookSecret: double.webhookSecret,
        checkoutUrl: double.checkoutUrl,
        timeoutMs: 500,
      },
      logger,
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await new Promise((r) => catcher?.close(r));
    await double?.stop();
  });
  afterEach(() => {
    proxy.setFaults({
      queryErrorRate: 0,
      queryTimeoutRate: 0,
      callbackDropRate: 0,
      callbackDuplicateRate: 0,
      callbackDelayRate: 0,
    });
  });

  async function paid() {
    const paymentId = randomUUID();
    const created = await channel.create({ paymentId, amount: 700, currency: 'USD', notifyUrl: 'unused' });
    if (created.outcome !== 'created') throw new Error('not created');
    await double.buyer(created.handoff.kind === 'client_secret' ? created.handoff.pageUrl! : '', 'pay');
    return { paymentId, channelPaymentId: created.channelPaymentId };
  }
  /** The webhooks that reached the catcher about this payment (other tests' may still be arriving). */
  const about = (paymentId: string) => received.filter((r) => r.raw.toString('utf8').includes(paymentId));
  const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('fails or hangs queries as told, which the adapter reports as retryable; creation passes', async () => {
    const p = await paid();
    expect((await channel.query(p)).state).toBe('SUCCESS');
    proxy.setFaults({ queryErrorRate: 1 });
    await expect(channel.query(p)).rejects.toBeInstanceOf(ChannelUnavailableError);
    proxy.setFaults({ queryErrorRate: 0, queryTimeoutRate: 1, queryTimeoutMs: 2000 });
    await expect(channel.query(p)).rejects.toBeInstanceOf(ChannelUnavailableError);
    expect(proxy.counts).toMatchObject({ queryErrors: 1, queryHangs: 1 });
    // Not a query: untouched by query faults.
    await expect(
      channel.create({ paymentId: randomUUID(), amount: 1, currency: 'USD', notifyUrl: 'unused' }),
    ).resolves.toMatchObject({ outcome: 'created' });
  });

  it('delivers webhooks untouched without faults, drops them, or delivers them twice, still verifiable', async () => {
    const plain = await paid();
    await settle(1500);
    expect(about(plain.paymentId)).toHaveLength(1);

    proxy.setFaults({ callbackDropRate: 1 });
    const dropped = await paid();
    await settle(1500);
    expect(about(dropped.paymentId)).toHaveLength(0);

    proxy.setFaults({ callbackDropRate: 0, callbackDuplicateRate: 1, callbackDelayMaxMs: 100 });
    const twice = await paid();
    await settle(1800);
    const copies = about(twice.paymentId);
    expect(copies).toHaveLength(2);
    expect(copies[0]!.raw.equals(copies[1]!.raw)).toBe(true);
    for (const copy of copies) {
      const verified = await channel.verifyCallback(copy.raw, () => copy.signature, Date.now());
      expect(verified).toMatchObject({ ok: true, callback: { paymentId: twice.paymentId, state: 'SUCCESS' } });
    }
  });

  it('holds a webhook back for the delay the seed picks', async () => {
    proxy.setFaults({ callbackDelayRate: 1, callbackDelayMinMs: 1200, callbackDelayMaxMs: 1300 });
    const start = Date.now();
    const p = await paid();
    await settle(1800);
    expect(about(p.paymentId)).toHaveLength(0);
    await settle(1200);
    expect(about(p.paymentId)).toHaveLength(1);
    expect(about(p.paymentId)[0]!.at - start).toBeGreaterThanOrEqual(2200); // localstripe's 1 s, then ours
    expect(proxy.counts.delayed).toBe(1);
  });
});
