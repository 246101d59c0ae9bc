// While PostgreSQL cannot be reached, every request that needs it answers 503 with Retry-After (never 500), so a
// channel retries its callback and the shop its request; a forged callback is still refused (401). The API reaches
// the database through a TCP proxy the test cuts: connections already pooled break ("Connection terminated"), new
// ones are refused (ECONNREFUSED). Responses are checked against the OpenAPI document (503 with Retry-After).
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createApp } from '../../api/app';
import { RETRY_AFTER_SECONDS } from '../../api/errors';
import { createChannels } from '../../channels';
import { loadConfig } from '../../config';
import { createDb } from '../../db/knex';
import { signCallback } from '../../sandbox/sandboxpay';
import { freePort } from '../../scripts/stack/net';
import { createTestDatabase, devServerAddress, type TestDatabase } from '../support/env';
import { listen } from '../support/http';
import { call } from '../support/openapi';
import { ADMIN_KEY, SECRET, TemporalProxy as TcpProxy } from '../support/stack';

describe('the API while PostgreSQL is unreachable', () => {
  const logged: string[] = []; // the API's error log: what the 503s were made of
  const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(line) });
  const silent = { warn: () => undefined, error: () => undefined, debug: () => undefined, deprecate: () => undefined };
  let t: TestDatabase;
  let connection: Connection;
  let proxy: TcpProxy;
  let db: ReturnType<typeof createDb>;
  let api: Awaited<ReturnType<typeof listen>>;
  const config = loadConfig({ SANDBOXPAY_SECRET: SECRET, ADMIN_API_KEY: ADMIN_KEY });

  beforeAll(async () => {
    t = await createTestDatabase();
    const target = new URL(t.url);
    proxy = new TcpProxy(await freePort(), `${target.hostname}:${target.port}`);
    await proxy.up();
    const viaProxy = new URL(t.url);
    viaProxy.port = String(proxy.port);
    db = createDb({ url: viaProxy.toString(), poolMax: 4, log: silent });
    connection = await Connection.connect({ address: devServerAddress() });
    const temporal = new Client({ connection });
    const channels = createChannels(config, logger);
    api = await listen(createApp({ db, temporal, config, logger, channels }));
  });
  afterAll(async () => {
    await api?.close();
    await db?.destroy();
    await proxy?.down();
    await connection?.close();
    await t?.drop();
  });

  const createPayment = () =>
    call(api.url, 'POST', '/payments', {
      body: { orderId: `o-${randomUUID()}`, amount: 2599, currency: 'CNY', channel: 'sandboxpay' },
      headers: { 'idempotency-key': randomUUID() },
    });
  function signedCallback(paymentId: string) {
    const raw = JSON.stringify({
      eventId: `evt_${randomUUID()}`,
      eventType: 'payment.succeeded',
      merchantId: config.sandbox.sandboxpay.merchantId,
      merchantOrderId: paymentId,
      channelPaymentId: 'sp_outage',
      status: 'SUCCESS',
      amount: 2599,
      currency: 'CNY',
    });
    const ts = String(Math.floor(Date.now() / 1000));
    return call(api.url, 'POST', '/callbacks/sandboxpay', {
      raw,
      headers: {
        'content-type': 'application/json',
        'x-sandboxpay-timestamp': ts,
        'x-sandboxpay-signature': signCallback(SECRET, ts, raw),
      },
    });
  }
  function expectUnavailable(res: { status: number; headers: Headers; body: { error: { code: string } } }) {
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS));
    expect(res.body.error.code).toBe('unavailable');
    expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|terminated|at .*\.ts:\d+/);
  }

  it('answers 503 + Retry-After for creates, signed callbacks, reads and the admin list, and 401 to a forgery', async () => {
    // Up: the pool holds open connections through the proxy.
    const known = randomUUID();
    expect((await call(api.url, 'GET', `/payments/${known}`)).status).toBe(404);
    expect((await signedCallback(known)).status).toBe(404);

    await proxy.down(); // pooled connections cut, new ones refused
    const started = Date.now();
    expectUnavailable(await createPayment());
    expectUnavailable(await signedCallback(known));
    expectUnavailable(await call(api.url, 'GET', `/payments/${known}`));
    expectUnavailable(await call(api.url, 'GET', `/payments/${known}/events`));
    expectUnavailable(
      await call(api.url, 'GET', '/admin/payments?status=PAYING&olderThan=10m', {
        headers: { 'x-api-key': ADMIN_KEY },
      }),
    );
    // A forged callback's answer does not depend on the database (its record is lost, and logged).
    const unsigned = await call(api.url, 'POST', '/callbacks/sandboxpay', {
      raw: '{"eventId":"evt_forged"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(unsigned.status).toBe(401);
    // Refused connections fail fast: no request waited for the pool's 10 s acquire timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await call(api.url, 'GET', '/readyz')).status).toBe(503);

    // Both ways a database goes missing were met: a pooled connection cut under a query, a new one refused.
    const causes = logged.map((line) => (JSON.parse(line) as { err?: { message?: string } }).err?.message ?? '');
    expect(causes.some((m) => /Connection terminated/.test(m))).toBe(true);
    expect(causes.some((m) => /ECONNREFUSED/.test(m))).toBe(true);
    await proxy.up(); // and back: the same requests reach the database again
    expect((await call(api.url, 'GET', `/payments/${known}`)).status).toBe(404);
    expect((await signedCallback(known)).status).toBe(404);
  });
});
