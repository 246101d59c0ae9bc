import { randomUUID } from 'node:crypto';
import { PaymentsRepository } from '../../db/payments-repo';
import { createTestDatabase, type TestDatabase } from '../support/env';

function payment(overrides: Record<string, unknown> = {}) {
  return {
    id: randomUUID(),
    order_id: 'order-1',
    amount: 1999,
    currency: 'CNY',
    channel: 'sandboxpay',
    idempotency_key: randomUUID(),
    request_fingerprint: 'f',
    expires_at: new Date(Date.now() + 30 * 60_000),
    ...overrides,
  };
}

/** The PostgreSQL error code of a failed statement (23505 unique, 23514 check). */
async function pgErrorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe('migrations on a real PostgreSQL server', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(() => t.drop());

  it('go up, down and up again', async () => {
    await t.db.migrate.latest();
    expect(await t.db.schema.hasTable('payments')).toBe(true);
    expect(await t.db.schema.hasTable('payment_events')).toBe(true);
    await t.db.migrate.rollback(undefined, true);
    expect(await t.db.schema.hasTable('payments')).toBe(false);
    expect(await t.db.schema.hasTable('payment_status_history')).toBe(false);
    expect(await t.db.schema.hasTable('payment_events')).toBe(false);
    await t.db.migrate.latest();
    expect(await t.db.schema.hasTable('payments')).toBe(true);
  });

  it('store a payment with money as integer minor units and read it back', async () => {
    const row = payment({ amount: 9_007_199_254_740_991 });
    await t.db('payments').insert(row);
    const stored = await t.db('payments').where({ id: row.id }).first();
    expect(stored).toMatchObject({ amount: 9_007_199_254_740_991, currency: 'CNY', status: 'UNPAID' });
  });

  it('reject a second payment with the same idempotency key', async () => {
    const first = payment();
    await t.db('payments').insert(first);
    expect(await pgErrorCode(t.db('payments').insert(payment({ idempotency_key: first.idempotency_key })))).toBe(
      '23505',
    );
  });

  it('reject a status outside the state machine', async () => {
    expect(await pgErrorCode(t.db('payments').insert(payment({ status: 'PAID_MAYBE' })))).toBe('23514');
    const row = payment();
    await t.db('payments').insert(row);
    expect(await pgErrorCode(t.db('payments').where({ id: row.id }).update({ status: 'paid' }))).toBe('23514');
  });

  it('reject a non-positive amount and a malformed currency', async () => {
    expect(await pgErrorCode(t.db('payments').insert(payment({ amount: 0 })))).toBe('23514');
    expect(await pgErrorCode(t.db('payments').insert(payment({ currency: 'cny' })))).toBe('23514');
  });

  it('keep one event per channel event id', async () => {
    const event = {
      channel: 'sandboxpay',
      source: 'callback',
      type: 'callback',
      channel_event_id: 'evt-1',
      outcome: 'accepted',
    };
    await t.db('payment_events').insert(event);
    expect(await pgErrorCode(t.db('payment_events').insert(event))).toBe('23505');
    // The same event id from another channel is another event.
    await t.db('payment_events').insert({ ...event, channel: 'otherpay' });
  });

  it('write an event a workflow records once per its key, however often the write is retried', async () => {
    const repo = new PaymentsRepository(t.db);
    const row = payment();
    await t.db('payments').insert(row);
    const event = {
      paymentId: row.id,
      channel: 'sandboxpay',
      source: 'operator' as const,
      type: 'operator:renotify',
      eventKey: `operator:${randomUUID()}`,
      payload: { actor: 'alice', reason: 'order service fixed', result: 'told again' },
      outcome: 'done',
    };
    const first = await repo.recordEvent(event);
    const retried = await repo.recordEvent(event);
    expect(first.inserted).toBe(true);
    expect(retried).toEqual({ inserted: false, id: first.id });
    // Another action (another key) is another event, and events without a key are never merged.
    await repo.recordEvent({ ...event, eventKey: `operator:${randomUUID()}` });
    const { eventKey: _none, ...unkeyed } = event;
    await repo.recordEvent(unkeyed);
    await repo.recordEvent(unkeyed);
    expect(await repo.listEvents(row.id)).toHaveLength(4);
  });
});

describe('the status history', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.drop());

  it('records every status change in order, and announces each one with NOTIFY', async () => {
    const listener = await t.db.client.acquireRawConnection();
    const heard: string[] = [];
    listener.on('notification', (n: { payload: string }) => heard.push(n.payload));
    await listener.query('listen payment_status');
    try {
      const row = payment();
      await t.db('payments').insert(row);
      await t.db('payments').where({ id: row.id }).update({ status: 'PAYING' });
      await t.db('payments').where({ id: row.id }).update({ amount: 2 }); // not a status change
      await t.db('payments').where({ id: row.id }).update({ status: 'SUCCESS', resolved_by: 'callback' });
      const history = await t.db('payment_status_history').where({ payment_id: row.id }).orderBy('id');
      expect(history.map((h) => [h.status, h.resolved_by])).toEqual([
        ['UNPAID', null],
        ['PAYING', null],
        ['SUCCESS', 'callback'],
      ]);
      for (let i = 0; i < 50 && heard.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(heard.map((h) => JSON.parse(h))).toEqual(history.map((h) => ({ paymentId: row.id, id: Number(h.id) })));
    } finally {
      await t.db.client.destroyRawConnection(listener);
    }
  });
});
