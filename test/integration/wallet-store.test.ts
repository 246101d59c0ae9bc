// The wallet's store (sandbox/wallet-store.ts): what a SandboxPay was doing when it stopped, the next one on the same
// database carries on: a notification's retries where they left off (same event id, next attempt), a refund going
// through, the late-settle fault's settlement; and event ids count on rather than starting again.
import express from 'express';
import pino from 'pino';
import { createSandboxPay, type SandboxPay } from '../../sandbox/sandboxpay';
import type { WalletFaults } from '../../sandbox/wallet';
import { WALLET_SCHEMA, WalletStore } from '../../sandbox/wallet-store';
import { createTestDatabase, type TestDatabase } from '../support/env';
import { listen } from '../support/http';

const logger = pino({ level: 'silent' });
const SECRET = 'wallet-store-secret-0123456789';

describe('the wallet across a restart (store in PostgreSQL)', () => {
  let t: TestDatabase;
  /** The merchant's callback endpoint: answers with the next status of `answers` (then 200), records what came. */
  let merchant: { url: string; close(): Promise<void> };
  const received: { eventId: string; status: string }[] = [];
  let answers: number[] = [];
  const running: { sandbox: SandboxPay; close(): Promise<void> }[] = [];

  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    const app = express();
    app.post('/notify', express.json(), (req, res) => {
      const body = req.body as { eventId: string; status: string };
      received.push({ eventId: body.eventId, status: body.status });
      res.status(answers.shift() ?? 200).end();
    });
    merchant = await listen(app);
  });
  afterAll(async () => {
    for (const r of [...running]) await r.close();
    await merchant?.close();
    await t?.drop();
  });

  /** A SandboxPay on the test database (a start of the sandbox process). */
  async function start(faults: Partial<WalletFaults> = {}, store?: WalletStore) {
    const sandbox = createSandboxPay({
      merchantId: 'shop',
      secret: SECRET,
      publicUrl: 'http://wallet',
      seed: 'store',
      faults,
      callbackRetryScale: 0.05, // retries 750 ms, 750 ms, 1.5 s, ...
      refundDelayMs: 400,
      logger,
      store: store ?? (await WalletStore.open(t.db, 'sandboxpay')),
    });
    const http = await listen(sandbox.app);
    const handle = {
      sandbox,
      url: http.url,
      async close() {
        running.splice(running.indexOf(handle), 1);
        sandbox.stop();
        await sandbox.wallet.flush().catch(() => undefined);
        await http.close();
      },
    };
    running.push(handle);
    return handle;
  }
  const api = async (url: string, method: string, body?: unknown) => {
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const eventually = async (what: string, check: () => boolean | Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const createPayment = async (url: string, merchantOrderId: string) => {
    const created = await api(`${url}/v1/payments`, 'POST', {
      merchantOrderId,
      amount: 500,
      currency: 'CNY',
      notifyUrl: `${merchant.url}/notify`,
    });
    expect(created.status).toBe(201);
    return String(created.body.channelPaymentId);
  };

  it('resumes a refused notification at its next attempt, and numbers new events after the stored ones', async () => {
    const first = await start();
    const id = await createPayment(first.url, 'order-retry');
    answers = [500];
    // The retry after the refusal is 750 ms away: stop as soon as the refusal is stored.
    expect((await api(`${first.url}/v1/payments/${id}/pay`, 'POST')).body.status).toBe('SUCCESS');
    await eventually('the refused attempt to be recorded', () => first.sandbox.payments.get(id)!.deliveries.length > 0);
    await first.close();
    const stored = await t.db(`${WALLET_SCHEMA}.notifications`).where({ channel_payment_id: id });
    expect(stored).toEqual([expect.objectContaining({ event_id: `evt_${id}_1`, state: 'pending', next_attempt: 2 })]);

    const second = await start();
    const p = second.sandbox.payments.get(id)!;
    expect(p).toMatchObject({ status: 'SUCCESS', merchantOrderId: 'order-retry', amount: 500 });
    await eventually('the resumed attempt to be accepted', () => p.deliveries.some((d) => d.accepted));
    expect(p.deliveries.map((d) => [d.eventId, d.attempt, d.httpStatus])).toEqual([
      [`evt_${id}_1`, 1, 500],
      [`evt_${id}_1`, 2, 200],
    ]);
    expect(received.filter((r) => r.eventId === `evt_${id}_1`)).toHaveLength(2);

    // A new event of the same payment (the channel settles it again) is the second, not a second "first".
    expect((await api(`${second.url}/admin/payments/${id}/settle-late`, 'POST')).status).toBe(200);
    await eventually('the second event', () => received.some((r) => r.eventId === `evt_${id}_2`));
    await eventually('both events stored as accepted', async () => {
      const rows = await t.db(`${WALLET_SCHEMA}.notifications`).where({ channel_payment_id: id }).orderBy('seq');
      return rows.length === 2 && rows.every((r: { state: string }) => r.state === 'accepted');
    });
    await second.close();
  });

  it('tells the merchant of a payment only once the wallet has stored it', async () => {
    // A store that fails on demand: a payment paid while it is down is not announced (a restart would forget it).
    const real = await WalletStore.open(t.db, 'sandboxpay');
    let down = false;
    const flaky = Object.create(real) as WalletStore;
    flaky.save = (rows) => (down ? Promise.reject(new Error('store down')) : real.save(rows));
    const wallet = await start({}, flaky);
    const id = await createPayment(wallet.url, 'order-unstored');
    down = true;
    expect((await api(`${wallet.url}/v1/payments/${id}/pay`, 'POST')).status).toBe(500); // SandboxPay's system_error
    await new Promise((r) => setTimeout(r, 1500));
    expect(received.filter((r) => r.eventId === `evt_${id}_1`)).toEqual([]);
    down = false;
    await eventually('the notification, once stored', () => received.some((r) => r.eventId === `evt_${id}_1`));
    const [stored] = await t.db(`${WALLET_SCHEMA}.payments`).where({ channel_payment_id: id });
    expect(stored).toMatchObject({ status: 'SUCCESS' });
    await wallet.close();
  });

  it("completes a refund that was going through and the late settlement of a closed payment, and keeps a decline's reason", async () => {
    const first = await start({ lateSettleRate: 1, lateSettleDelayMs: 600 });
    const paid = await createPayment(first.url, 'order-refund');
    await api(`${first.url}/v1/payments/${paid}/pay`, 'POST');
    await eventually('the payment notified', () => received.some((r) => r.eventId === `evt_${paid}_1`));
    const refund = await api(`${first.url}/v1/payments/${paid}/refund`, 'POST', { refundKey: 'rf-1', amount: 500 });
    expect(refund.body.status).toBe('PROCESSING');
    const declined = await createPayment(first.url, 'order-declined');
    await api(`${first.url}/v1/payments/${declined}/decline`, 'POST', { reason: 'card expired' });
    const closed = await createPayment(first.url, 'order-late');
    expect((await api(`${first.url}/v1/payments/${closed}/close`, 'POST')).body.status).toBe('CLOSED');
    await first.close(); // before the refund (400 ms) or the settlement (600 ms) is due

    const second = await start(); // no faults now: the settlement was decided before the restart
    const refundId = String(refund.body.refundId);
    expect((await api(`${second.url}/v1/refunds/${refundId}`, 'GET')).body.status).toBe('PROCESSING');
    await eventually(
      'the refund to go through',
      async () => (await api(`${second.url}/v1/refunds/${refundId}`, 'GET')).body.status === 'SUCCESS',
    );
    expect((await api(`${second.url}/v1/payments/${paid}`, 'GET')).body.status).toBe('REFUND');
    // The same refund key is the same refund after the restart (idempotent), not a second one.
    const again = await api(`${second.url}/v1/payments/${paid}/refund`, 'POST', { refundKey: 'rf-1', amount: 500 });
    expect([again.status, again.body.refundId]).toEqual([200, refundId]);

    await eventually('the late settlement notified', () =>
      received.some((r) => r.eventId === `evt_${closed}_1` && r.status === 'SUCCESS'),
    );
    expect((await api(`${second.url}/v1/payments/${closed}`, 'GET')).body.status).toBe('SUCCESS');
    await second.close();

    // And a third start sees all of it as it ended.
    const third = await start();
    expect(third.sandbox.payments.get(paid)).toMatchObject({ status: 'REFUND', refunds: [{ status: 'SUCCESS' }] });
    expect(third.sandbox.payments.get(closed)).toMatchObject({ status: 'SUCCESS' });
    expect(third.sandbox.payments.get(declined)).toMatchObject({ status: 'PAYERROR', reason: 'card expired' });
    expect(third.sandbox.wallet.findByOrder('order-late')?.channelPaymentId).toBe(closed);
    await third.close();
  });
});
