// WeChat Pay end to end over real HTTP, with the whole stack: dev server, PostgreSQL, worker, API, the order service
// and the WeChat Pay v3 emulator (signing every reply, sending signed and encrypted notifications to our API). The
// adapter is configured exactly as `npm start` configures it (development keys, read through config/index.ts).
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toOutTradeNo } from '../../channels/wechatpay/notification';
import type { ReconcileInput, ReconcileResult } from '../../workflows/reconcile';
import { call } from '../support/openapi';
import { Stack } from '../support/stack';
import { platformNotification } from '../support/wechatpay';
import { type RunningWechatPay, wechatPayDouble } from '../support/wechatpay-emulator';

describe('WeChat Pay payments over HTTP, whole stack', () => {
  let s: Stack;
  let wp: RunningWechatPay;
  beforeAll(async () => {
    s = await Stack.start({
      channelDoubles: [wechatPayDouble({ started: (running) => (wp = running), callbackRetryScale: 0.01 })],
      // Short enough that an unpaid payment reaches its expiry (and the close at the channel) within a test.
      env: { PAYMENT_EXPIRY: '12s', PAYMENT_QUERY_SCHEDULE: '2s,3s,5s' },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });
  afterEach(() => {
    wp.emulator.setFaults({ callbackDropRate: 0 });
  });

  const create = async (orderId: string) => {
    const res = await call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount: 2599, currency: 'CNY', channel: 'wechatpay' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(201);
    return res.body as { paymentId: string; payUrl: string; handoff: { kind: string; codeUrl: string } };
  };
  const get = async (id: string) => (await call(s.apiUrl, 'GET', `/payments/${id}`)).body;
  const until = (id: string, status: string, timeoutMs = 30_000) =>
    s.eventually(
      `payment ${id} to be ${status}`,
      async () => {
        const body = await get(id);
        return body.status === status && body;
      },
      timeoutMs,
    );
  const walletPayment = (paymentId: string) => wp.emulator.findByOutTradeNo(toOutTradeNo(paymentId))!;
  const buyer = (paymentId: string, action: 'pay' | 'decline') =>
    fetch(`${wp.url}/wallet/${walletPayment(paymentId).channelPaymentId}/${action}`, { method: 'POST' });

  /** A notification as the platform would send it (its key unless told otherwise), posted to our API. */
  function notification(paymentId: string, options: { amount?: number; id?: string; key?: 'stranger' } = {}) {
    const privateKey =
      options.key === 'stranger'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
        : createPrivateKey(readFileSync(wp.env.WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE!, 'utf8'));
    return platformNotification({
      privateKey,
      serial: wp.env.WECHATPAY_PUBLIC_KEY_ID!,
      apiV3Key: wp.env.WECHATPAY_API_V3_KEY!,
      id: options.id ?? `EV-${randomUUID()}`,
      transaction: {
        mchid: wp.env.WECHATPAY_MCHID,
        appid: wp.env.WECHATPAY_APPID,
        out_trade_no: toOutTradeNo(paymentId),
        transaction_id: walletPayment(paymentId).channelPaymentId,
        trade_type: 'NATIVE',
        trade_state: 'SUCCESS',
        success_time: '2026-11-27T12:00:00+08:00',
        amount: { total: options.amount ?? 2599, payer_total: options.amount ?? 2599, currency: 'CNY' },
      },
    });
  }
  // Not through the OpenAPI checker: WeChat Pay's answers are its own (204, {"code":"FAIL"}), not the API's JSON.
  const post = (n: { body: string; headers: Record<string, string> }) =>
    fetch(`${s.apiUrl}/callbacks/wechatpay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...n.headers },
      body: n.body,
    });

  it('the buyer scans and pays; the notification is answered 204 and the order turns paid', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    const p = walletPayment(created.paymentId);
    expect(created.handoff).toEqual({
      kind: 'qr_code',
      codeUrl: `${wp.url}/pay/${p.channelPaymentId}`,
      pageUrl: `${wp.url}/pay/${p.channelPaymentId}`,
    });
    expect(created.payUrl).toBe(`${wp.url}/pay/${p.channelPaymentId}`);
    expect((await buyer(created.paymentId, 'pay')).status).toBe(200);

    const paid = await until(created.paymentId, 'SUCCESS');
    expect(paid.resolvedBy).toBe('callback');
    expect((await s.repo.get(created.paymentId))?.channel_payment_id).toBe(toOutTradeNo(created.paymentId));
    await s.eventually('the notification to be acknowledged', async () => p.deliveries.length > 0);
    expect(p.deliveries).toEqual([expect.objectContaining({ attempt: 1, httpStatus: 204, accepted: true })]);
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    const events = await s.repo.listEvents(created.paymentId);
    const callbacks = events.filter((e) => e.source === 'callback');
    expect(callbacks.map((e) => [e.type, e.outcome])).toEqual([['TRANSACTION.SUCCESS', 'accepted']]);
  });

  it('when the notification is lost, the first scheduled query finds the payment', async () => {
    wp.emulator.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder();
    const created = await create(orderId);
    await buyer(created.paymentId, 'pay');
    expect((await until(created.paymentId, 'SUCCESS')).resolvedBy).toBe('query');
    expect(walletPayment(created.paymentId).droppedEvents).toHaveLength(1);
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
  });

  it('a payment never paid is closed at WeChat Pay at its expiry; paid there later anyway, it is refunded there', async () => {
    const created = await create(await s.createOrder());
    const closed = await until(created.paymentId, 'CLOSED', 45_000);
    expect(closed.resolvedBy).toBe('close');
    const p = walletPayment(created.paymentId);
    expect(p.status).toBe('CLOSED');

    // The channel settles the closed order after all (a payment in flight): its notification is a late success,
    // and the money goes back through WeChat Pay's refund API, followed by refund queries to the end.
    expect((await fetch(`${wp.url}/admin/payments/${p.channelPaymentId}/settle-late`, { method: 'POST' })).status).toBe(
      200,
    );
    await until(created.paymentId, 'REFUNDED', 45_000);
    expect(p.refunds).toEqual([
      expect.objectContaining({ refundKey: `refund-${created.paymentId}`, amount: 2599, status: 'SUCCESS' }),
    ]);
  });

  it('a buyer whose payment fails: no notification (WeChat Pay sends none), the query finds PAYERROR', async () => {
    const created = await create(await s.createOrder());
    expect((await buyer(created.paymentId, 'decline')).status).toBe(200);
    expect((await until(created.paymentId, 'FAILED')).resolvedBy).toBe('query');
    expect((await s.repo.listEvents(created.paymentId)).filter((e) => e.source === 'callback')).toHaveLength(0);
  });

  it('a forged notification is answered 401 {"code":"FAIL"} and changes nothing', async () => {
    wp.emulator.setFaults({ callbackDropRate: 1 });
    const created = await create(await s.createOrder());
    await buyer(created.paymentId, 'pay'); // paid at the channel; only the forgery and the queries could tell us
    const forged = notification(created.paymentId, { key: 'stranger' });
    const res = await post(forged);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ code: 'FAIL', message: 'the callback signature did not verify' });
    const stale = await post({
      ...forged,
      headers: { ...forged.headers, 'wechatpay-timestamp': String(Math.floor(Date.now() / 1000) - 600) },
    });
    expect(stale.status).toBe(401);
    const rows = await s.t.db('payment_events').where('outcome', 'like', 'rejected:%').where({ channel: 'wechatpay' });
    expect(rows.map((r: { outcome: string }) => r.outcome).sort()).toEqual([
      'rejected:bad_signature',
      'rejected:stale_timestamp',
    ]);
    expect((await s.repo.listEvents(created.paymentId)).filter((e) => e.source === 'callback')).toHaveLength(0);
    // The payment was settled by its own query, never by the forgery.
    expect((await until(created.paymentId, 'SUCCESS')).resolvedBy).toBe('query');
  });

  it('a genuine notification with the wrong amount is received but not trusted: the query decides', async () => {
    wp.emulator.setFaults({ callbackDropRate: 1 });
    const created = await create(await s.createOrder());
    const res = await post(notification(created.paymentId, { amount: 1 })); // signed, but the buyer paid nothing
    expect(res.status).toBe(204);
    await s.eventually('the mismatch to be noted', async () =>
      (await s.repo.listEvents(created.paymentId)).some((e) => e.type === 'anomaly:callback_mismatch'),
    );
    expect((await get(created.paymentId)).status).toBe('PAYING');
  });

  it('five copies of one notification: five 204s, one transition, one event row', async () => {
    wp.emulator.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder();
    const created = await create(orderId);
    await buyer(created.paymentId, 'pay');
    const copy = notification(created.paymentId, { id: `EV-${randomUUID()}` });
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(copy)));
    expect(answers.map((a) => a.status)).toEqual([204, 204, 204, 204, 204]);
    expect((await until(created.paymentId, 'SUCCESS')).resolvedBy).toBe('callback');
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
    const eventId = JSON.parse(copy.body).id as string;
    expect(await s.t.db('payment_events').where({ channel_event_id: eventId })).toHaveLength(1);
  });

  it("the statement reconciliation reads WeChat Pay's trade bills and finds them agreeing with our payments", async () => {
    const result = await s.workerTemporal.workflow.execute<(i: ReconcileInput) => Promise<ReconcileResult>>(
      'reconcileWorkflow',
      {
        taskQueue: s.config.temporal.taskQueue,
        workflowId: `reconcile-wechatpay-${randomUUID()}`,
        args: [{ task: 'statement', channels: ['wechatpay'], lookbackMs: 3_600_000 }],
      },
    );
    expect(result.statements).toEqual([
      {
        channel: 'wechatpay',
        entries: expect.any(Number),
        repaired: [],
        lateSuccesses: [],
        unknownAtChannel: [],
        notAtChannel: [],
      },
    ]);
    // Paid at the channel by now: the callback test, the lost notification, the forgery's, the five copies', the
    // late one (refunded).
    expect(result.statements![0]!.entries).toBeGreaterThanOrEqual(5);
  });
});
