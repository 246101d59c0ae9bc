// Stripe payments end to end over real HTTP: the whole stack (dev server, PostgreSQL, worker, API, order service)
// with the Stripe adapter against localstripe, whose signed webhooks go to our API. The buyer pays on the checkout
// page. localstripe delivers each webhook once, 1 s after its event, to every registered endpoint: a lost webhook is
// an endpoint pointed at a dead port, a duplicate is a second endpoint pointed at the API.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { call } from '../support/openapi';
import { Stack } from '../support/stack';
import { stripeChannelDouble, type StripeDouble } from '../support/stripe';

const DEAD_URL = 'http://127.0.0.1:1/callbacks/stripe';

describe('Stripe payments over HTTP, whole stack', () => {
  let s: Stack;
  const holder: { current?: StripeDouble } = {};
  const stripe = () => holder.current!;
  let tap: { url: string; seen: { status: number; body: Record<string, unknown> }[]; server: Server };

  beforeAll(async () => {
    s = await Stack.start({
      channelDoubles: [stripeChannelDouble(holder)],
      // Short enough for a never-paid payment to expire within a test; long enough for paid ones to be paid first.
      env: { PAYMENT_EXPIRY: '15s', PAYMENT_QUERY_SCHEDULE: '4s' },
    });
    // A second endpoint that forwards to the API and keeps the API's answers: the duplicate delivery, observed.
    const seen: { status: number; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const answer = await fetch(`${s.apiUrl}/callbacks/stripe`, {
            method: 'POST',
            headers: {
              'content-type': String(req.headers['content-type']),
              'stripe-signature': String(req.headers['stripe-signature']),
            },
            body: Buffer.concat(chunks),
          });
          const text = await answer.text();
          seen.push({ status: answer.status, body: JSON.parse(text) as Record<string, unknown> });
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
        })();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    tap = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen, server };
  });
  afterAll(async () => {
    await new Promise((r) => tap?.server.close(r));
    await s?.stop();
  });
  /** Where localstripe sends its webhooks: the API, a dead port (lost), and optionally the API again (duplicated). */
  async function webhooksTo(first: 'api' | 'dead', second: 'tap' | 'dead' = 'dead') {
    const { localstripe, webhookSecret } = stripe();
    await localstripe.registerWebhook(
      'api',
      first === 'api' ? `${s.apiUrl}/callbacks/stripe` : DEAD_URL,
      webhookSecret,
    );
    await localstripe.registerWebhook('copy', second === 'tap' ? tap.url : DEAD_URL, webhookSecret);
  }

  const create = async (currency = 'USD', amount = 2599) => {
    const orderId = await s.createOrder(amount, currency);
    const res = await call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount, currency, channel: 'stripe' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(201);
    return { orderId, ...(res.body as { paymentId: string; payUrl: string; handoff: Record<string, string> }) };
  };
  const get = async (id: string) => (await call(s.apiUrl, 'GET', `/payments/${id}`)).body;
  const until = (id: string, status: string) =>
    s.eventually(
      `payment ${id} to be ${status}`,
      async () => {
        const body = await get(id);
        return body.status === status && body;
      },
      40_000,
    );

  it('paid on the checkout page: the signed webhook marks it paid and the order service is told once', async () => {
    await webhooksTo('api');
    const p = await create();
    expect(p.handoff).toMatchObject({
      kind: 'client_secret',
      clientSecret: expect.stringMatching(/^pi_\w+_secret_/),
      publishableKey: stripe().localstripe.publishableKey,
    });
    expect(p.payUrl).toBe(p.handoff.pageUrl);
    expect((await stripe().buyer(p.payUrl, 'pay')).body.status).toBe('succeeded');
    const paid = await until(p.paymentId, 'SUCCESS');
    expect(paid.resolvedBy).toBe('callback');
    await s.eventually('the order to be paid', async () => (await s.order(p.orderId)).status === 'PAID');
    expect((await s.order(p.orderId)).transitions).toHaveLength(1);
    const callbacks = (await s.repo.listEvents(p.paymentId)).filter((e) => e.source === 'callback');
    expect(callbacks.map((e) => [e.type, e.outcome])).toEqual([['payment_intent.succeeded', 'accepted']]);
  });

  it('when the webhook is lost, a scheduled query finds the payment paid', async () => {
    await webhooksTo('dead');
    const p = await create('JPY', 500);
    await stripe().buyer(p.payUrl, 'pay');
    const paid = await until(p.paymentId, 'SUCCESS');
    expect(paid).toMatchObject({ resolvedBy: 'query', amount: 500, currency: 'JPY' });
    await s.eventually('the order to be paid', async () => (await s.order(p.orderId)).status === 'PAID');
  });

  it('never paid: at expiry the intent is canceled at Stripe and the payment is CLOSED', async () => {
    await webhooksTo('api');
    const p = await create();
    const closed = await until(p.paymentId, 'CLOSED');
    expect(closed.resolvedBy).toBe('close');
    const intentId = p.handoff.clientSecret!.split('_secret_')[0]!;
    const { localstripe } = stripe();
    const raw = new Stripe(localstripe.secretKey, { host: '127.0.0.1', port: localstripe.port, protocol: 'http' });
    expect((await raw.paymentIntents.retrieve(intentId)).status).toBe('canceled');
    // Too late to pay: the page refuses to confirm a canceled intent.
    expect((await stripe().buyer(p.payUrl, 'pay')).status).toBe(409);
  });

  it('a declined card is not the end: the payment stays PAYING and a second card pays it', async () => {
    await webhooksTo('api');
    const p = await create();
    expect((await stripe().buyer(p.payUrl, 'decline')).body).toMatchObject({ declined: true });
    await s.eventually('the payment_failed webhook to be recorded', async () =>
      (await s.repo.listEvents(p.paymentId)).some((e) => e.type === 'payment_intent.payment_failed'),
    );
    expect((await get(p.paymentId)).status).toBe('PAYING');
    await stripe().buyer(p.payUrl, 'pay');
    // Whichever tells first: the webhook (1 s after the charge) or the query schedule (every 4 s).
    expect(['callback', 'query']).toContain((await until(p.paymentId, 'SUCCESS')).resolvedBy);
  });

  it('refuses forged webhooks (wrong secret, stale, unsigned) with 401 and changes nothing', async () => {
    await webhooksTo('dead');
    const p = await create();
    const intentId = p.handoff.clientSecret!.split('_secret_')[0]!;
    const payload = JSON.stringify({
      id: `evt_${randomUUID().replace(/-/g, '')}`,
      object: 'event',
      type: 'payment_intent.succeeded',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      data: {
        object: {
          id: intentId,
          object: 'payment_intent',
          status: 'succeeded',
          amount: 2599,
          currency: 'usd',
          created: Math.floor(Date.now() / 1000),
          metadata: { payment_id: p.paymentId },
        },
      },
    });
    const signer = new Stripe('sk_test_signer');
    const send = (signature?: string) =>
      call(s.apiUrl, 'POST', '/callbacks/stripe', {
        raw: payload,
        headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
      });
    const wrongSecret = await send(signer.webhooks.generateTestHeaderString({ payload, secret: 'whsec_forger' }));
    expect([wrongSecret.status, wrongSecret.body.error.message]).toEqual([
      401,
      'the callback signature did not verify',
    ]);
    const stale = await send(
      signer.webhooks.generateTestHeaderString({
        payload,
        secret: stripe().webhookSecret,
        timestamp: Math.floor(Date.now() / 1000) - 600,
      }),
    );
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(/outside the allowed clock skew \(60\d s behind our clock/);
    expect((await send()).status).toBe(401);

    expect((await get(p.paymentId)).status).toBe('PAYING');
    expect((await s.repo.listEvents(p.paymentId)).filter((e) => e.source === 'callback')).toHaveLength(0);
    const rejected = await s.t
      .db('payment_events')
      .where({ channel: 'stripe' })
      .where('outcome', 'like', 'rejected:%')
      .whereRaw("payload->'data'->'object'->'metadata'->>'payment_id' = ?", [p.paymentId]);
    expect(rejected.map((e: { outcome: string }) => e.outcome).sort()).toEqual([
      'rejected:bad_signature',
      'rejected:missing_signature',
      'rejected:stale_timestamp',
    ]);
  });

  it('the same webhook delivered twice makes one transition and one order notification', async () => {
    await webhooksTo('api', 'tap');
    tap.seen.length = 0;
    const p = await create('EUR', 1000);
    await stripe().buyer(p.payUrl, 'pay');
    expect((await until(p.paymentId, 'SUCCESS')).resolvedBy).toBe('callback');
    const second = await s.eventually('the second delivery', async () => tap.seen[0]);
    expect(second).toEqual({ status: 200, body: { received: true, duplicate: true, outcome: expect.any(String) } });
    await s.eventually('the order to be paid', async () => (await s.order(p.orderId)).status === 'PAID');
    expect((await s.order(p.orderId)).transitions).toHaveLength(1);
    const callbacks = (await s.repo.listEvents(p.paymentId)).filter((e) => e.source === 'callback');
    expect(callbacks).toHaveLength(1);
  });
});
