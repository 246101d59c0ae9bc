// The API end to end over real HTTP, with the whole stack: dev server, PostgreSQL, worker, API, SandboxPay (sending
// real signed callbacks) and the order service. Every response is checked against the OpenAPI document.
import { randomUUID } from 'node:crypto';
import { createApp } from '../../api/app';
import { StatusFeed } from '../../api/status-feed';
import { signCallback } from '../../sandbox/sandboxpay';
import { listen } from '../support/http';
import { call, exercised, openApiDocument } from '../support/openapi';
import { openSse, statusOf } from '../support/sse';
import { channelIdOf, SECRET, Stack } from '../support/stack';

describe('payments over HTTP, whole stack', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start();
  });
  afterAll(async () => {
    await s?.stop();
  });
  afterEach(async () => {
    s.sandbox.setFaults({ callbackDropRate: 0, createLatencyMs: 0, queryErrorRate: 0 });
    await s.proxy.up(); // a test that cut Temporal off and failed must not leave it cut
  });

  const create = (orderId: string, key: string = randomUUID(), body: Record<string, unknown> = {}) =>
    call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount: 2599, currency: 'CNY', channel: 'sandboxpay', ...body },
      headers: { 'idempotency-key': key },
    });
  const get = (id: string) => call(s.apiUrl, 'GET', `/payments/${id}`);
  const until = (id: string, status: string) =>
    s.eventually(`payment ${id} to be ${status}`, async () => {
      const res = await get(id);
      return res.body.status === status && res.body;
    });

  /** The callback SandboxPay would send for a paid payment, signed (or not) as the test wishes. */
  function callbackBody(paymentId: string, channelPaymentId: string, overrides: Record<string, unknown> = {}) {
    return JSON.stringify({
      eventId: `evt_${randomUUID()}`,
      eventType: 'payment.succeeded',
      merchantId: s.config.sandbox.sandboxpay.merchantId,
      merchantOrderId: paymentId,
      channelPaymentId,
      status: 'SUCCESS',
      amount: 2599,
      currency: 'CNY',
      paidAt: new Date().toISOString(),
      ...overrides,
    });
  }
  function sendCallback(raw: string, { secret = SECRET, timestamp = Math.floor(Date.now() / 1000) } = {}) {
    const ts = String(timestamp);
    return call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw,
      headers: {
        'content-type': 'application/json',
        'x-sandboxpay-timestamp': ts,
        'x-sandboxpay-signature': signCallback(secret, ts, raw),
      },
    });
  }

  it('happy path: the buyer pays, the callback arrives, the order turns paid, and the push stream shows it', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/payments/${created.body.paymentId}`);
    expect(created.body).toMatchObject({
      orderId,
      amount: 2599,
      currency: 'CNY',
      channel: 'sandboxpay',
      status: 'PAYING',
    });
    expect(created.body.payUrl).toMatch(/\/pay\/sp_/);
    expect(created.body.handoff).toEqual({ kind: 'redirect', url: created.body.payUrl });

    const stream = await openSse(`${s.apiUrl}/payments/${created.body.paymentId}/events`);
    expect(stream.status).toBe(200);
    await stream.waitFor((e) => statusOf(e) === 'PAYING');
    expect(await s.buyer(channelIdOf(created.body.payUrl), 'pay')).toBe(200);
    await stream.ended; // the server ends the stream after the final state
    expect(stream.events.map(statusOf)).toEqual(['UNPAID', 'PAYING', 'SUCCESS']);

    const paid = await s.eventually('the order service to ack', async () => {
      const res = await get(created.body.paymentId);
      return res.body.orderNotifiedAt && res.body;
    });
    expect(paid).toMatchObject({ status: 'SUCCESS', resolvedBy: 'callback' });
    const order = await s.order(orderId);
    expect(order.status).toBe('PAID');
    expect(order.transitions).toHaveLength(1);
    const events = await s.repo.listEvents(created.body.paymentId);
    expect(events.filter((e) => e.source === 'callback').map((e) => e.outcome)).toEqual(['accepted']);
  });

  it('when SandboxPay drops the callback, the first scheduled query pays the order', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder();
    const created = await create(orderId);
    await s.buyer(channelIdOf(created.body.payUrl), 'pay');
    const paid = await until(created.body.paymentId, 'SUCCESS');
    expect(paid.resolvedBy).toBe('query');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
  });

  it('refuses forged callbacks (bad signature, stale timestamp, tampered body) with 401 and changes nothing', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const created = await create(await s.createOrder());
    const { paymentId } = created.body;
    const channelPaymentId = channelIdOf(created.body.payUrl);
    const forged = callbackBody(paymentId, channelPaymentId);

    const wrongSecret = await sendCallback(forged, { secret: 'not-the-secret-0123456789' });
    expect([wrongSecret.status, wrongSecret.body.error.message]).toEqual([
      401,
      'the callback signature did not verify',
    ]);
    const stale = await sendCallback(forged, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(
      /^the callback timestamp is outside the allowed clock skew \(60\d s behind our clock; at most 300 s allowed\)$/,
    );
    const ts = String(Math.floor(Date.now() / 1000));
    const tampered = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw: forged.replace('"amount":2599', '"amount":1'),
      headers: {
        'content-type': 'application/json',
        'x-sandboxpay-timestamp': ts,
        'x-sandboxpay-signature': signCallback(SECRET, ts, forged),
      },
    });
    expect(tampered.status).toBe(401);
    expect(tampered.body.error.code).toBe('unauthorized');
    const unsigned = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw: forged,
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);

    expect((await get(paymentId)).body.status).toBe('PAYING');
    const rejected = await s.t
      .db('payment_events')
      .where('outcome', 'like', 'rejected:%')
      .whereRaw("payload->>'merchantOrderId' = ?", [paymentId]);
    expect(rejected.map((e: { outcome: string }) => e.outcome).sort()).toEqual([
      'rejected:bad_signature',
      'rejected:bad_signature',
      'rejected:missing_signature',
      'rejected:stale_timestamp',
    ]);
    expect(rejected.every((e: { payment_id: string | null }) => e.payment_id === null)).toBe(true);
    expect((await s.repo.listEvents(paymentId)).filter((e) => e.source === 'callback')).toHaveLength(0);
  });

  it('records a callback with a NUL (or nested 30,000 deep): 401 unsigned, 400 signed, never 500', async () => {
    const paymentId = randomUUID();
    const withNul = callbackBody(paymentId, 'sp_nul', { eventId: `evt_${randomUUID()}\u0000`, 'x\u0000': '\u0000' });
    const unsigned = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw: withNul,
      headers: { 'content-type': 'application/json' },
    });
    expect([unsigned.status, unsigned.body.error.message]).toEqual([
      401,
      'the callback is not signed (its signature or timestamp header is missing)',
    ]);
    const signed = await sendCallback(withNul);
    expect([signed.status, signed.body.error.message]).toEqual([400, 'the callback body could not be read']);
    const deep = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw: `{"merchantOrderId":"${paymentId}","deep":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
      headers: { 'content-type': 'application/json' },
    });
    expect(deep.status).toBe(401);

    // All three are in the event log, NULs stored as U+FFFD, the deep part replaced by a note.
    const rows = await s.t
      .db('payment_events')
      .whereRaw("payload->>'merchantOrderId' = ?", [paymentId])
      .orderBy('id')
      .select('outcome', 'signature_valid', 'payload', 'payment_id');
    expect(rows.map((r: { outcome: string; signature_valid: boolean }) => [r.outcome, r.signature_valid])).toEqual([
      ['rejected:missing_signature', false],
      ['rejected:malformed_body', true],
      ['rejected:missing_signature', false],
    ]);
    const stored = rows[0].payload as Record<string, string>;
    expect(stored.eventId).toMatch(/^evt_.*\ufffd$/);
    expect(stored['x\ufffd']).toBe('\ufffd');
    expect(JSON.stringify(rows[2].payload)).toMatch(/nested deeper than 64 levels: not stored/);
    expect(rows.every((r: { payment_id: string | null }) => r.payment_id === null)).toBe(true);
  });

  it('answers 404 to a correctly signed callback for a payment it does not know', async () => {
    const res = await sendCallback(callbackBody(randomUUID(), 'sp_nothing'));
    expect(res.status).toBe(404);
    expect((await sendCallback(callbackBody('not-even-a-uuid', 'sp_nothing'))).status).toBe(404);
  });

  it('acknowledges five concurrent copies of one callback and makes one transition', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const channelPaymentId = channelIdOf(created.body.payUrl);
    await s.buyer(channelPaymentId, 'pay');
    const raw = callbackBody(created.body.paymentId, channelPaymentId);
    const answers = await Promise.all(Array.from({ length: 5 }, () => sendCallback(raw)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);

    const paid = await until(created.body.paymentId, 'SUCCESS');
    expect(paid.resolvedBy).toBe('callback');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
    const eventId = JSON.parse(raw).eventId as string;
    expect(await s.t.db('payment_events').where({ channel_event_id: eventId })).toHaveLength(1);
  });

  it('does not lose a callback that arrives before the create request has returned', async () => {
    s.sandbox.setFaults({ createLatencyMs: 1500 }); // the channel has the payment; its answer to us is slow
    const orderId = await s.createOrder();
    const pending = create(orderId);
    const channelPayment = await s.eventually('the payment to exist at the channel', async () =>
      [...s.sandbox.payments.values()].find((p) => p.description === `order ${orderId}`),
    );
    expect(await s.buyer(channelPayment.channelPaymentId, 'pay')).toBe(200); // its callback races our create
    await s.eventually('the callback to be accepted', async () =>
      channelPayment.deliveries.some((d) => d.httpStatus === 200),
    );
    const created = await pending;
    expect(created.status).toBe(201);
    const paid = await until(created.body.paymentId, 'SUCCESS');
    expect(paid.resolvedBy).toBe('callback');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
  });

  it('answers 5xx while Temporal is unreachable, and the channel retry succeeds once it is back', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const channelPaymentId = channelIdOf(created.body.payUrl);
    const channelPayment = s.sandbox.payments.get(channelPaymentId)!;
    s.sandbox.setFaults({ queryErrorRate: 1 }); // so only the retried callback can settle it

    await s.proxy.down();
    await s.buyer(channelPaymentId, 'pay');
    await s.eventually('a callback to be refused', async () =>
      channelPayment.deliveries.some((d) => d.httpStatus >= 500),
    );
    const refused = channelPayment.deliveries.find((d) => d.httpStatus >= 500)!;
    expect(refused.httpStatus).toBe(503);
    await s.proxy.up();

    await s.eventually(
      'the retried callback to be accepted',
      async () => channelPayment.deliveries.some((d) => d.httpStatus === 200),
      60_000,
    );
    const accepted = channelPayment.deliveries.find((d) => d.httpStatus === 200)!;
    expect(accepted.eventId).toBe(refused.eventId);
    expect(accepted.attempt).toBeGreaterThan(refused.attempt);
    expect((await until(created.body.paymentId, 'SUCCESS')).resolvedBy).toBe('callback');
    const callbackEvents = (await s.repo.listEvents(created.body.paymentId)).filter((e) => e.source === 'callback');
    expect(callbackEvents).toHaveLength(1); // recorded once, accepted on the retry
    expect(callbackEvents[0]!.outcome).toBe('accepted');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
  });

  it('creates idempotently: the same key gives one payment and one workflow; another body with it is 409', async () => {
    const orderId = await s.createOrder();
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 4 }, () => create(orderId, key)));
    const ids = new Set(answers.map((a) => a.body.paymentId));
    expect(ids.size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 201]);
    expect(answers.find((a) => a.status === 200)!.headers.get('idempotent-replayed')).toBe('true');
    expect(await s.t.db('payments').where({ idempotency_key: key })).toHaveLength(1);
    const [paymentId] = [...ids] as string[];
    const runs = await s.eventually('the workflow to be visible', async () => {
      const n = await s.temporal.workflow.count(`WorkflowId = 'payment-${paymentId}'`);
      return n.count > 0 && n.count;
    });
    expect(runs).toBe(1);

    const conflict = await create(orderId, key, { amount: 100 });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('conflict');
  });

  it('reconnecting to the push stream with Last-Event-ID misses nothing and repeats nothing', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const created = await create(await s.createOrder());
    const url = `${s.apiUrl}/payments/${created.body.paymentId}/events`;
    const first = await openSse(url);
    const paying = await first.waitFor((e) => statusOf(e) === 'PAYING');
    first.close();

    await s.buyer(channelIdOf(created.body.payUrl), 'pay');
    await until(created.body.paymentId, 'SUCCESS'); // happened while no stream was open

    const second = await openSse(url, paying.id);
    await second.ended;
    expect(second.events.map(statusOf)).toEqual(['SUCCESS']);
    expect(Number(second.events[0]!.id)).toBeGreaterThan(Number(paying.id));
    const third = await openSse(url, second.events[0]!.id);
    expect(third.status).toBe(204);
  });

  it('pushes to a client on another API process: changes travel through PostgreSQL, not memory', async () => {
    const feed = new StatusFeed(s.t.url, s.logger);
    await feed.start();
    const other = await listen(
      createApp({ db: s.t.db, temporal: s.temporal, config: s.config, logger: s.logger, statusFeed: feed }),
    );
    try {
      s.sandbox.setFaults({ callbackDropRate: 1 });
      const created = await create(await s.createOrder()); // through the first API process
      const stream = await openSse(`${other.url}/payments/${created.body.paymentId}/events`);
      await stream.waitFor((e) => statusOf(e) === 'PAYING');
      const before = Date.now();
      await s.buyer(channelIdOf(created.body.payUrl), 'pay');
      await stream.ended;
      expect(stream.events.map(statusOf)).toEqual(['UNPAID', 'PAYING', 'SUCCESS']);
      // Pushed on NOTIFY, not found by the 15 s safety poll.
      expect(Date.now() - before).toBeLessThan(12_000);
    } finally {
      await other.close();
      await feed.stop();
    }
  });

  it('lets the buyer cancel, once', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const cancelled = await call(s.apiUrl, 'POST', `/payments/${created.body.paymentId}/cancel`);
    expect(cancelled.status).toBe(202);
    await until(created.body.paymentId, 'CANCELLED');
    const again = await call(s.apiUrl, 'POST', `/payments/${created.body.paymentId}/cancel`, {
      body: { reason: 'again' },
    });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already CANCELLED/);
  });

  it('shows the workflow live, and lets an operator list and requery payments', async () => {
    const created = await create(await s.createOrder());
    const live = await call(s.apiUrl, 'GET', `/payments/${created.body.paymentId}?live=1`);
    expect(live.status).toBe(200);
    expect(live.body.live).toMatchObject({ paymentId: created.body.paymentId, status: 'PAYING', orderNotified: false });
    expect(live.body.live.waitingFor).toMatch(/callback/);

    const key = { 'x-api-key': s.config.api.adminApiKey };
    expect((await call(s.apiUrl, 'GET', '/admin/payments?status=PAYING')).status).toBe(401);
    const listed = await call(s.apiUrl, 'GET', '/admin/payments?status=PAYING&olderThan=1ms', { headers: key });
    expect(listed.status).toBe(200);
    expect(listed.body.payments.map((p: { paymentId: string }) => p.paymentId)).toContain(created.body.paymentId);
    expect(listed.body.payments.every((p: { status: string }) => p.status === 'PAYING')).toBe(true);
    const none = await call(s.apiUrl, 'GET', '/admin/payments?status=PAYING&olderThan=1d', { headers: key });
    expect(none.body.count).toBe(0);

    const operator = { ...key, 'x-operator': 'e2e' };
    const requery = await call(s.apiUrl, 'POST', `/admin/payments/${created.body.paymentId}/requery`, {
      headers: operator,
    });
    expect(requery.status).toBe(202);
    // Actions that do not apply to an open payment are refused, saying why (test/api/operator-actions.test.ts has
    // each action where it applies).
    const renotify = await call(s.apiUrl, 'POST', `/admin/payments/${created.body.paymentId}/renotify`, {
      headers: operator,
      body: { reason: 'e2e' },
    });
    expect(renotify.status).toBe(409);
    const resolve = await call(s.apiUrl, 'POST', `/admin/payments/${created.body.paymentId}/resolve`, {
      headers: operator,
      body: { action: 'close', reason: 'e2e' },
    });
    expect(resolve.status).toBe(409);
    expect(resolve.body.error.message).toMatch(/only a payment waiting for review/);
    await s.eventually('the operator query to run', async () =>
      (await s.repo.listEvents(created.body.paymentId)).some((e) => e.type === 'query:operator'),
    );
    expect(
      (await call(s.apiUrl, 'POST', `/admin/payments/${randomUUID()}/requery`, { headers: operator })).status,
    ).toBe(404);

    // The payment's story: its creation, the operator's query and who asked, and its transitions.
    const story = await call(s.apiUrl, 'GET', `/admin/payments/${created.body.paymentId}/events`, { headers: key });
    expect(story.status).toBe(200);
    expect(story.body.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['create', 'query:operator']),
    );
    expect(story.body.transitions.map((t: { status: string }) => t.status)).toEqual(['UNPAID', 'PAYING']);
    expect((await call(s.apiUrl, 'GET', `/admin/payments/${created.body.paymentId}/events`)).status).toBe(401);
    expect((await call(s.apiUrl, 'GET', `/admin/payments/${randomUUID()}/events`, { headers: key })).status).toBe(404);
    expect((await call(s.apiUrl, 'GET', '/admin/payments/not-a-uuid/events', { headers: key })).status).toBe(400);
  });

  it('answers "paid, but the shop does not know yet": ?unacknowledged=true lists it until the order service acknowledges', async () => {
    const key = { 'x-api-key': s.config.api.adminApiKey };
    const orderId = await s.createOrder();
    const created = await create(orderId);
    s.orderService.setFaults({ outageForMs: 4000 });
    await s.buyer(channelIdOf(created.body.payUrl), 'pay');
    await until(created.body.paymentId, 'SUCCESS');
    const unacked = await call(s.apiUrl, 'GET', '/admin/payments?unacknowledged=true', { headers: key });
    expect(unacked.status).toBe(200);
    expect(unacked.body.payments.map((p: { paymentId: string }) => p.paymentId)).toContain(created.body.paymentId);
    expect(unacked.body.payments.every((p: { orderNotifiedAt: string | null }) => p.orderNotifiedAt === null)).toBe(
      true,
    );
    await s.eventually('the order service to acknowledge', async () => (await s.order(orderId)).status === 'PAID');
    await s.eventually('the payment to leave the list', async () => {
      const after = await call(s.apiUrl, 'GET', '/admin/payments?unacknowledged=true', { headers: key });
      return !after.body.payments.some((p: { paymentId: string }) => p.paymentId === created.body.paymentId);
    });
  });

  it('answers health and its own document, and every documented operation was called and matched the document', async () => {
    expect((await call(s.apiUrl, 'GET', '/healthz')).status).toBe(200);
    expect((await call(s.apiUrl, 'GET', '/readyz')).status).toBe(200);
    const metricsText = await call(s.apiUrl, 'GET', '/metrics');
    expect(metricsText.status).toBe(200);
    expect(metricsText.body).toMatch(/^payments_created_total\{channel="sandboxpay"\} [1-9]/m);
    expect(metricsText.body).toMatch(/^payments_callbacks_total\{channel="sandboxpay",outcome="rejected"\} [1-9]/m);
    const doc = await call(s.apiUrl, 'GET', '/openapi.json');
    // The generated document, naming where this API is (API_PUBLIC_URL) as its server.
    expect(doc.body).toEqual({ ...openApiDocument, servers: [{ url: s.config.api.publicUrl }] });

    // The codec server, each operation once as documented (test/api/codec-server.test.ts pins its behaviour).
    const key = { 'x-api-key': s.config.api.adminApiKey };
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const plain = { payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64('{"orderId":"o-1"}') }] };
    const encoded = await call(s.apiUrl, 'POST', '/codec/encode', { body: plain, headers: key });
    expect(encoded.status).toBe(200);
    const decoded = await call(s.apiUrl, 'POST', '/codec/decode', { body: encoded.body, headers: key });
    expect(decoded.body).toEqual(plain);
    expect((await call(s.apiUrl, 'GET', '/codec/login')).status).toBe(200);
    expect((await call(s.apiUrl, 'POST', '/codec/login', { body: { key: 'not-the-key' } })).status).toBe(401);
    expect((await call(s.apiUrl, 'POST', '/codec/logout')).status).toBe(200);

    const documented = Object.entries(openApiDocument.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const called = new Set([...exercised].map((e) => e.split(' ').slice(0, 2).join(' ')));
    expect(documented.filter((op) => !called.has(op))).toEqual([]);
  });
});
