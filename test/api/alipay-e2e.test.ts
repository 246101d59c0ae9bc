// Alipay end to end over real HTTP, with the whole stack (dev server, PostgreSQL, worker, API, order service) and our
// Alipay emulator as the channel: its signed gateway replies checked by the official SDK in our adapter, its
// form-encoded RSA2 notifications posted to the API and answered in Alipay's words.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { toBeijingTime } from '../../channels/alipay/fields';
import { toDecimalString } from '../../channels/money';
import { signNotification } from '../../sandbox/alipay/signing';
import type { WalletPayment } from '../../sandbox/wallet';
import { alipayBuyer, alipayDouble, type RunningAlipayEmulator } from '../support/alipay';
import { call } from '../support/openapi';
import { Stack } from '../support/stack';

describe('Alipay over HTTP, whole stack', () => {
  let s: Stack;
  let alipay: RunningAlipayEmulator;
  beforeAll(async () => {
    s = await Stack.start({
      channelDoubles: [alipayDouble((running) => (alipay = running), { callbackRetryScale: 0.001 })],
      // Short lives, so "never paid" closes within the test: queries at 2 s, 5 s, 10 s; expiry at 15 s.
      env: { PAYMENT_EXPIRY: '15s' },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });
  afterEach(() => {
    alipay.emulator.setFaults({ callbackDropRate: 0, lateSettleRate: 0 });
  });

  const create = async (orderId: string, amount = 2599) => {
    const res = await call(s.apiUrl, 'POST', '/payments', {
      body: { orderId, amount, currency: 'CNY', channel: 'alipay' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(201);
    return res.body as {
      paymentId: string;
      handoff: { kind: string; codeUrl: string; pageUrl?: string };
      payUrl: string;
    };
  };
  const tradeNoOf = (created: { handoff: { codeUrl: string } }) => created.handoff.codeUrl.split('/pay/')[1]!;
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

  /** A notification of this trade as Alipay signs it (or as a forger does, with another key). */
  function notification(p: WalletPayment, overrides: Record<string, string> = {}, key?: string): string {
    const fields = {
      notify_id: `nid_${randomUUID().replace(/-/g, '')}`,
      notify_time: toBeijingTime(Date.now()),
      notify_type: 'trade_status_sync',
      app_id: alipay.env.ALIPAY_APP_ID!,
      seller_id: alipay.env.ALIPAY_SELLER_ID!,
      trade_no: p.channelPaymentId,
      out_trade_no: p.merchantOrderId,
      trade_status: 'TRADE_SUCCESS',
      total_amount: toDecimalString(p.amount, 'CNY'),
      gmt_payment: toBeijingTime(Date.parse(p.paidAt ?? new Date().toISOString())),
      subject: p.description ?? '',
      charset: 'utf-8',
      version: '1.0',
      ...overrides,
    };
    const signed = signNotification(fields, key ?? readFileSync(alipay.env.ALIPAY_EMULATOR_PRIVATE_KEY_FILE!, 'utf8'));
    return new URLSearchParams(signed).toString();
  }
  /** POST /callbacks/alipay, the answer checked against the OpenAPI document (text/plain in Alipay's words). */
  const post = async (form: string) => {
    const res = await call(s.apiUrl, 'POST', '/callbacks/alipay', {
      raw: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    });
    return { status: res.status, type: res.headers.get('content-type'), body: res.body as string };
  };

  it('paid by callback: the buyer scans and pays, the notification is answered `success`, the order turns paid', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    expect(created.handoff).toEqual({
      kind: 'qr_code',
      codeUrl: `${alipay.url}/pay/${tradeNoOf(created)}`,
      pageUrl: `${alipay.url}/pay/${tradeNoOf(created)}`,
    });
    expect(created.payUrl).toBe(created.handoff.pageUrl);
    expect(await alipayBuyer(alipay.url, tradeNoOf(created), 'scan')).toBe(200);
    expect(await alipayBuyer(alipay.url, tradeNoOf(created), 'pay')).toBe(200);

    const paid = await until(created.paymentId, 'SUCCESS');
    expect(paid).toMatchObject({ resolvedBy: 'callback', channel: 'alipay', amount: 2599 });
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
    // The emulator counts a delivery as accepted only when the answer was 200 and exactly `success`.
    const trade = alipay.emulator.wallet.find(tradeNoOf(created))!;
    expect(trade.deliveries).toEqual([expect.objectContaining({ attempt: 1, httpStatus: 200, accepted: true })]);
    const events = await s.repo.listEvents(created.paymentId);
    expect(events.filter((e) => e.source === 'callback').map((e) => [e.type, e.outcome])).toEqual([
      ['trade_status_sync:TRADE_SUCCESS', 'accepted'],
    ]);
  });

  it('callback lost: the first scheduled query finds the trade paid', async () => {
    alipay.emulator.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder();
    const created = await create(orderId);
    await alipayBuyer(alipay.url, tradeNoOf(created), 'pay');
    expect(await until(created.paymentId, 'SUCCESS')).toMatchObject({ resolvedBy: 'query' });
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect(alipay.emulator.wallet.find(tradeNoOf(created))!.droppedEvents).toHaveLength(1);
  });

  it('never paid: at expiry the code that was never scanned dies, the scanned one is closed, both CLOSED', async () => {
    const [unscanned, scanned] = await Promise.all([create(await s.createOrder()), create(await s.createOrder())]);
    await alipayBuyer(alipay.url, tradeNoOf(scanned), 'scan');
    // Before the scan Alipay has no trade; the workflow's queries see NOT_FOUND and keep waiting.
    const [a, b] = await Promise.all([
      until(unscanned.paymentId, 'CLOSED', 40_000),
      until(scanned.paymentId, 'CLOSED', 40_000),
    ]);
    expect([a.resolvedBy, b.resolvedBy]).toEqual(['close', 'close']);
    expect(alipay.emulator.wallet.find(tradeNoOf(scanned))!.status).toBe('CLOSED');
    expect(await alipayBuyer(alipay.url, tradeNoOf(unscanned), 'pay')).toBe(409); // too late to pay
    expect(await alipayBuyer(alipay.url, tradeNoOf(scanned), 'pay')).toBe(409);
    const events = (await s.repo.listEvents(scanned.paymentId)).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['query:scheduled']));
  });

  it('a trade Alipay settles after we closed it is refunded (a late success), and the order stays unpaid', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    await alipayBuyer(alipay.url, tradeNoOf(created), 'scan');
    // The buyer's payment was in flight when we closed: Alipay settles it a second later anyway, and notifies.
    alipay.emulator.setFaults({ lateSettleRate: 1, lateSettleDelayMs: 1000 });
    expect(await until(created.paymentId, 'CLOSED', 40_000)).toMatchObject({ resolvedBy: 'close' });

    await until(created.paymentId, 'REFUNDED', 40_000);
    const trade = alipay.emulator.wallet.find(tradeNoOf(created))!;
    expect(trade.refunds).toEqual([expect.objectContaining({ amount: 2599, status: 'SUCCESS' })]);
    const types = (await s.repo.listEvents(created.paymentId)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['anomaly:late_success', 'trade_status_sync:TRADE_SUCCESS']));
    expect((await s.order(orderId)).status).not.toBe('PAID');
  });

  it('refuses forged, tampered and mistaken notifications with `fail`, and nothing changes', async () => {
    alipay.emulator.setFaults({ callbackDropRate: 1 });
    const created = await create(await s.createOrder());
    await alipayBuyer(alipay.url, tradeNoOf(created), 'scan');
    const trade = alipay.emulator.wallet.find(tradeNoOf(created))!;
    const rejectedBefore = await s.t
      .db('payment_events')
      .where({ channel: 'alipay' })
      .where('outcome', 'like', 'rejected:%');

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await post(
      notification(trade, {}, String(other.privateKey.export({ type: 'pkcs8', format: 'pem' }))),
    );
    expect(forged).toEqual({ status: 401, type: 'text/plain; charset=utf-8', body: 'fail' });
    const tampered = await post(notification(trade).replace('total_amount=25.99', 'total_amount=0.01'));
    expect([tampered.status, tampered.body]).toEqual([401, 'fail']);
    const wrongSeller = await post(notification(trade, { seller_id: '2088999999999999' }));
    expect([wrongSeller.status, wrongSeller.body]).toEqual([401, 'fail']);
    const unsigned = await post(`out_trade_no=${trade.merchantOrderId}&trade_status=TRADE_SUCCESS&total_amount=25.99`);
    expect([unsigned.status, unsigned.body]).toEqual([401, 'fail']);
    const badAmount = await post(notification(trade, { total_amount: '25.999' }));
    expect([badAmount.status, badAmount.body]).toEqual([400, 'fail']);

    expect((await get(created.paymentId)).status).toBe('PAYING');
    const rejected = await s.t.db('payment_events').where({ channel: 'alipay' }).where('outcome', 'like', 'rejected:%');
    expect(
      rejected
        .slice(rejectedBefore.length)
        .map((e: { outcome: string }) => e.outcome)
        .sort(),
    ).toEqual([
      'rejected:bad_signature',
      'rejected:bad_signature',
      'rejected:malformed_body',
      'rejected:missing_signature',
      'rejected:wrong_merchant',
    ]);
    expect((await s.repo.listEvents(created.paymentId)).filter((e) => e.source === 'callback')).toHaveLength(0);
  });

  it('five copies of one notification: all answered `success`, one transition', async () => {
    alipay.emulator.setFaults({ callbackDropRate: 1 });
    const orderId = await s.createOrder();
    const created = await create(orderId);
    await alipayBuyer(alipay.url, tradeNoOf(created), 'pay');
    const form = notification(alipay.emulator.wallet.find(tradeNoOf(created))!);
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(form)));
    expect(answers.map((a) => [a.status, a.body])).toEqual(Array.from({ length: 5 }, () => [200, 'success']));

    expect(await until(created.paymentId, 'SUCCESS')).toMatchObject({ resolvedBy: 'callback' });
    await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    expect((await s.order(orderId)).transitions).toHaveLength(1);
    const notifyId = new URLSearchParams(form).get('notify_id');
    expect(await s.t.db('payment_events').where({ channel_event_id: notifyId })).toHaveLength(1);
  });

  it('refunds a payment the order service refuses; the refund notice (TRADE_CLOSED) is acknowledged, not taken for "closed unpaid"', async () => {
    const orderId = await s.createOrder();
    const created = await create(orderId);
    expect((await fetch(`${s.ordersUrl}/orders/${orderId}/cancel`, { method: 'POST' })).status).toBe(200);
    await alipayBuyer(alipay.url, tradeNoOf(created), 'pay');

    expect(await until(created.paymentId, 'REFUNDED', 60_000)).toMatchObject({ resolvedBy: 'callback' });
    const anomaly = (await s.repo.listEvents(created.paymentId)).find((e) => e.type === 'anomaly:order_refused');
    expect(JSON.stringify(anomaly?.payload)).toContain('order_cancelled');
    const trade = alipay.emulator.wallet.find(tradeNoOf(created))!;
    expect(trade.refunds).toEqual([
      expect.objectContaining({ refundKey: `refund-${created.paymentId}`, amount: 2599, status: 'SUCCESS' }),
    ]);
    expect(trade.status).toBe('REFUND'); // Alipay: TRADE_CLOSED after a full refund

    const notice = await s.eventually('the refund notice to be recorded', async () =>
      (await s.repo.listEvents(created.paymentId)).find((e) => e.type === 'refund_notice:TRADE_CLOSED'),
    );
    expect(notice.outcome).toBe('ignored');
    await s.eventually('the refund notice to be answered `success`', async () =>
      trade.deliveries.some((d) => d.eventId.startsWith('rfd_') && d.accepted),
    );
    expect((await get(created.paymentId)).status).toBe('REFUNDED');
    expect((await s.order(orderId)).status).toBe('CANCELLED');
  });
});
