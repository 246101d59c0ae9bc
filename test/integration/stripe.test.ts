// The Stripe adapter against localstripe over real HTTP: PaymentIntents created, found, paid on the buyer page,
// canceled and refunded; localstripe's signed webhooks caught by a small server and verified by the adapter.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import Stripe from 'stripe';
import { StripeChannel } from '../../channels/stripe';
import { ChannelUnavailableError } from '../../channels/types';
import { startStripeDouble, type StripeDouble } from '../support/stripe';

interface Delivery {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  event: { id: string; type: string; data: { object: { id: string } } };
}

/** A webhook endpoint that keeps what it receives and answers 200. */
async function webhookCatcher(): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      deliveries.push({ headers: req.headers, raw, event: JSON.parse(raw.toString('utf8')) as Delivery['event'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    deliveries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('Stripe adapter against localstripe', () => {
  const logger = pino({ level: 'silent' });
  let double: StripeDouble;
  let hooks: Awaited<ReturnType<typeof webhookCatcher>>;
  let channel: StripeChannel;
  let raw: Stripe; // what the test reads straight from the double

  beforeAll(async () => {
    double = await startStripeDouble(logger);
    hooks = await webhookCatcher();
    await double.localstripe.registerWebhook('test', hooks.url, double.webhookSecret);
    channel = new StripeChannel(
      {
        apiUrl: double.localstripe.url,
        secretKey: double.localstripe.secretKey,
        webhookSecret: double.webhookSecret,
        publishableKey: double.localstripe.publishableKey,
        checkoutUrl: double.checkoutUrl,
        timeoutMs: 5000,
      },
      logger,
    );
    const port = Number(new URL(double.localstripe.url).port);
    raw = new Stripe(double.localstripe.secretKey, { host: '127.0.0.1', port, protocol: 'http' });
  });
  afterAll(async () => {
    await hooks?.close();
    await double?.stop();
  });

  const request = (paymentId = randomUUID(), amount = 2599, currency = 'USD') => ({
    paymentId,
    amount,
    currency,
    description: `order for ${paymentId}`,
    notifyUrl: 'http://unused.invalid/callbacks/stripe',
  });

  async function created(paymentId = randomUUID(), amount = 2599, currency = 'USD') {
    const outcome = await channel.create(request(paymentId, amount, currency));
    if (outcome.outcome !== 'created' || outcome.handoff.kind !== 'client_secret') throw new Error('not created');
    return { paymentId, channelPaymentId: outcome.channelPaymentId, handoff: outcome.handoff };
  }

  /** The webhook of that type about that intent, once localstripe has sent it (it waits 1 s before sending). */
  async function webhook(type: string, intentId: string): Promise<Delivery> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = hooks.deliveries.find((d) => d.event.type === type && d.event.data.object.id === intentId);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} webhook for ${intentId}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const headerOf = (d: Delivery) => (name: string) => {
    const v = d.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };

  it('creates one PaymentIntent per payment id, however often asked, and hands over its client secret and page', async () => {
    const paymentId = randomUUID();
    const first = await created(paymentId);
    const again = await created(paymentId);
    expect(again.channelPaymentId).toBe(first.channelPaymentId);
    expect(first.channelPaymentId).toMatch(/^pi_/);
    expect(first.handoff.clientSecret).toMatch(new RegExp(`^${first.channelPaymentId}_secret_`));
    expect(first.handoff.publishableKey).toBe(double.localstripe.publishableKey);
    expect(first.handoff.pageUrl).toBe(
      `${double.checkoutUrl}/stripe/checkout/${first.channelPaymentId}?client_secret=${encodeURIComponent(first.handoff.clientSecret)}`,
    );
    const intent = await raw.paymentIntents.retrieve(first.channelPaymentId);
    expect(intent).toMatchObject({
      amount: 2599,
      currency: 'usd',
      metadata: { payment_id: paymentId },
      description: `order for ${paymentId}`,
    });
    const page = await fetch(first.handoff.pageUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Pay with test card');
    const wrongSecret = await fetch(first.handoff.pageUrl!.replace(/client_secret=.*/, 'client_secret=pi_x_secret_y'));
    expect(wrongSecret.status).toBe(403);
  });

  it('queries by intent id, finds an intent by our payment id alone, and says NOT_FOUND for what does not exist', async () => {
    const p = await created();
    expect(await channel.query(p)).toEqual({
      state: 'PENDING',
      channelStatus: 'requires_payment_method',
      channelPaymentId: p.channelPaymentId,
      amount: 2599,
      currency: 'USD',
    });
    expect(await channel.query({ paymentId: p.paymentId })).toMatchObject({
      state: 'PENDING',
      channelPaymentId: p.channelPaymentId,
    });
    expect(await channel.query({ paymentId: randomUUID(), channelPaymentId: 'pi_doesnotexist' })).toEqual({
      state: 'NOT_FOUND',
      channelStatus: 'NOT_FOUND',
    });
    expect((await channel.query({ paymentId: randomUUID() })).state).toBe('NOT_FOUND');
  });

  it('paid on the checkout page: the intent succeeds, and its signed webhook is accepted by verifyCallback', async () => {
    const p = await created();
    const paid = await double.buyer(p.handoff.pageUrl!, 'pay');
    expect(paid).toEqual({ status: 200, body: { id: p.channelPaymentId, status: 'succeeded' } });
    const view = await channel.query(p);
    expect(view).toMatchObject({ state: 'SUCCESS', channelStatus: 'succeeded', amount: 2599, currency: 'USD' });
    expect(Date.parse(view.paidAt!)).toBeGreaterThan(Date.now() - 60_000);

    const delivery = await webhook('payment_intent.succeeded', p.channelPaymentId);
    expect(delivery.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const verified = await channel.verifyCallback(delivery.raw, headerOf(delivery), Date.now());
    expect(verified).toMatchObject({
      ok: true,
      callback: {
        eventId: delivery.event.id,
        eventType: 'payment_intent.succeeded',
        channelPaymentId: p.channelPaymentId,
        paymentId: p.paymentId,
        state: 'SUCCESS',
        channelStatus: 'succeeded',
        amount: 2599,
        currency: 'USD',
      },
    });
  });

  it('refuses a tampered, stale, future, unsigned or foreign-secret webhook, naming why', async () => {
    const p = await created();
    await double.buyer(p.handoff.pageUrl!, 'pay');
    const d = await webhook('payment_intent.succeeded', p.channelPaymentId);
    const header = headerOf(d);
    const tampered = Buffer.from(d.raw.toString('utf8').replace('"amount": 2599', '"amount": 1'));
    expect(tampered.equals(d.raw)).toBe(false);
    expect(await channel.verifyCallback(tampered, header, Date.now())).toEqual({ ok: false, reason: 'bad_signature' });
    const stale = await channel.verifyCallback(d.raw, header, Date.now() + 301_000);
    expect(stale).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect((stale as { detail: string }).detail).toMatch(/^30\d s behind our clock; at most 300 s allowed$/);
    const future = await channel.verifyCallback(d.raw, header, Date.now() - 400_000);
    expect(future).toMatchObject({ ok: false, reason: 'stale_timestamp' });
    expect(await channel.verifyCallback(d.raw, () => undefined, Date.now())).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
    expect(await channel.verifyCallback(d.raw, () => 'garbage', Date.now())).toEqual({
      ok: false,
      reason: 'missing_signature',
    });
    const foreign = raw.webhooks.generateTestHeaderString({ payload: d.raw.toString('utf8'), secret: 'whsec_other' });
    expect(await channel.verifyCallback(d.raw, () => foreign, Date.now())).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
  });

  it('tells genuine events apart: a live-mode event is another merchant, an unfollowed type is ignored', async () => {
    const sign = (event: object) => {
      const payload = JSON.stringify(event);
      const header = raw.webhooks.generateTestHeaderString({ payload, secret: double.webhookSecret });
      return { body: Buffer.from(payload), header: () => header };
    };
    const intent = { id: 'pi_x', object: 'payment_intent', status: 'succeeded', amount: 100, currency: 'usd' };
    const base = { id: 'evt_1', object: 'event', created: Math.floor(Date.now() / 1000), livemode: false };
    const live = sign({ ...base, livemode: true, type: 'payment_intent.succeeded', data: { object: intent } });
    expect(await channel.verifyCallback(live.body, live.header, Date.now())).toEqual({
      ok: false,
      reason: 'wrong_merchant',
    });
    const created = sign({
      ...base,
      type: 'payment_intent.created',
      data: { object: { ...intent, metadata: { payment_id: 'p-1' } } },
    });
    expect(await channel.verifyCallback(created.body, created.header, Date.now())).toMatchObject({
      ok: true,
      ignored: 'payment_intent.created',
      eventId: 'evt_1',
      paymentId: 'p-1',
    });
    const notOurs = sign({ ...base, type: 'payment_intent.succeeded', data: { object: { ...intent, metadata: {} } } });
    expect(await channel.verifyCallback(notOurs.body, notOurs.header, Date.now())).toMatchObject({
      ok: true,
      ignored: 'payment_intent.succeeded (no metadata.payment_id)',
    });
    const notJson = Buffer.from('not json');
    const notJsonHeader = raw.webhooks.generateTestHeaderString({ payload: 'not json', secret: double.webhookSecret });
    expect(await channel.verifyCallback(notJson, () => notJsonHeader, Date.now())).toEqual({
      ok: false,
      reason: 'malformed_body',
    });
  });

  it('a declined card leaves the payment pending (the buyer may try again), and a second card pays it', async () => {
    const p = await created();
    const declined = await double.buyer(p.handoff.pageUrl!, 'decline');
    expect(declined.body).toMatchObject({
      status: 'requires_payment_method',
      declined: true,
      message: 'Your card was declined.',
    });
    // Why, in Stripe's words for the buyer (last_payment_error.message), while the intent stays payable.
    expect(await channel.query(p)).toMatchObject({
      state: 'PENDING',
      channelStatus: 'requires_payment_method',
      reason: 'Your card was declined.',
    });
    const failed = await webhook('payment_intent.payment_failed', p.channelPaymentId);
    const verified = await channel.verifyCallback(failed.raw, headerOf(failed), Date.now());
    expect(verified).toMatchObject({
      ok: true,
      callback: { state: 'PENDING', eventType: 'payment_intent.payment_failed' },
    });
    expect((await double.buyer(p.handoff.pageUrl!, 'pay')).body.status).toBe('succeeded');
    const paid = await channel.query(p);
    expect(paid.state).toBe('SUCCESS');
    expect(paid.reason).toBeUndefined(); // an earlier decline is no reason for a paid intent
  });

  it('closes an unpaid intent (canceled, CLOSED), again harmlessly, and answers SUCCESS for one paid first', async () => {
    const unpaid = await created();
    expect(await channel.close(unpaid)).toMatchObject({ state: 'CLOSED', channelStatus: 'canceled' });
    expect(await channel.close(unpaid)).toMatchObject({ state: 'CLOSED', channelStatus: 'canceled' });
    expect(await channel.close({ paymentId: unpaid.paymentId })).toMatchObject({ state: 'CLOSED' });
    expect(await channel.close({ paymentId: randomUUID() })).toMatchObject({ state: 'NOT_FOUND' });

    const paid = await created();
    await double.buyer(paid.handoff.pageUrl!, 'pay');
    expect(await channel.close(paid)).toMatchObject({ state: 'SUCCESS', channelStatus: 'succeeded' });
  });

  it('refunds part of a paid payment idempotently, and finds the refund', async () => {
    const p = await created(randomUUID(), 5000, 'EUR');
    await double.buyer(p.handoff.pageUrl!, 'pay');
    const refundKey = `payment-${p.paymentId}:refund`;
    const refund = await channel.refund({ ...p, refundKey, amount: 1500 });
    expect(refund).toMatchObject({ outcome: 'accepted', state: 'SUCCESS' });
    const again = await channel.refund({ ...p, refundKey, amount: 1500 });
    expect(again).toEqual(refund);
    const refundId = (refund as { refundId: string }).refundId;
    expect(refundId).toMatch(/^re_/);
    expect(await channel.queryRefund({ channelPaymentId: p.channelPaymentId, refundId })).toBe('SUCCESS');
    expect(await channel.queryRefund({ channelPaymentId: p.channelPaymentId, refundId: 're_nope' })).toBe('NOT_FOUND');
    expect((await raw.refunds.retrieve(refundId)).amount).toBe(1500);

    const unpaid = await created();
    expect(await channel.refund({ ...unpaid, refundKey: `${unpaid.paymentId}:r`, amount: 100 })).toMatchObject({
      outcome: 'rejected',
    });
  });

  it('the statement lists paid payments of the range with their refunds, and nothing unpaid or declined', async () => {
    const from = new Date(Date.now() - 1000);
    const paid = await created(randomUUID(), 1234, 'GBP');
    await double.buyer(paid.handoff.pageUrl!, 'pay');
    await channel.refund({ ...paid, refundKey: `${paid.paymentId}:r`, amount: 234 });
    const declined = await created();
    await double.buyer(declined.handoff.pageUrl!, 'decline');
    const unpaid = await created();
    const entries = await channel.statement({ from, to: new Date(Date.now() + 2000) });
    const mine = entries.filter((e) => [paid, declined, unpaid].some((p) => p.paymentId === e.paymentId));
    expect(mine).toEqual([
      {
        channelPaymentId: paid.channelPaymentId,
        paymentId: paid.paymentId,
        amount: 1234,
        currency: 'GBP',
        paidAt: expect.any(String),
        refundedAmount: 234,
      },
    ]);
    expect(
      await channel.statement({ from: new Date(Date.now() + 60_000), to: new Date(Date.now() + 120_000) }),
    ).toEqual([]);
  });

  it('keeps amounts exact in zero-decimal currencies (JPY) and where Stripe counts digits differently (ISK)', async () => {
    const yen = await created(randomUUID(), 500, 'JPY');
    expect((await raw.paymentIntents.retrieve(yen.channelPaymentId)).amount).toBe(500);
    expect(await channel.query(yen)).toMatchObject({ amount: 500, currency: 'JPY' });
    await double.buyer(yen.handoff.pageUrl!, 'pay');
    const d = await webhook('payment_intent.succeeded', yen.channelPaymentId);
    expect(await channel.verifyCallback(d.raw, headerOf(d), Date.now())).toMatchObject({
      callback: { amount: 500, currency: 'JPY' },
    });
    // ISK has no minor unit in ISO 4217 but two decimals at Stripe: 1500 kr is sent as 150000.
    const krona = await created(randomUUID(), 1500, 'ISK');
    expect((await raw.paymentIntents.retrieve(krona.channelPaymentId)).amount).toBe(150000);
    expect(await channel.query(krona)).toMatchObject({ amount: 1500, currency: 'ISK' });
  });

  it('turns an unreachable or failing Stripe into ChannelUnavailableError (retryable), never a value', async () => {
    const failing = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"type":"api_error","message":"boom"}}');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const port = (failing.address() as AddressInfo).port;
    const config = { secretKey: 'sk_test_x', webhookSecret: 'whsec_x', timeoutMs: 1000 };
    try {
      const broken = new StripeChannel({ ...config, apiUrl: `http://127.0.0.1:${port}` }, logger);
      await expect(broken.query({ paymentId: 'p', channelPaymentId: 'pi_x' })).rejects.toBeInstanceOf(
        ChannelUnavailableError,
      );
      await expect(broken.create(request())).rejects.toBeInstanceOf(ChannelUnavailableError);
    } finally {
      await new Promise<void>((r) => failing.close(() => r()));
    }
    const gone = new StripeChannel({ ...config, apiUrl: `http://127.0.0.1:${port}` }, logger);
    await expect(gone.query({ paymentId: 'p', channelPaymentId: 'pi_x' })).rejects.toBeInstanceOf(
      ChannelUnavailableError,
    );
    await expect(gone.statement({ from: new Date(0), to: new Date() })).rejects.toBeInstanceOf(ChannelUnavailableError);
  });
});
