// Bad input gets a 400 naming the field (or 404/413/415), never a stack trace, and leaves nothing half-written.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { renderOpenApi } from '../../scripts/openapi';
import { call, openApiDocument } from '../support/openapi';
import { Stack } from '../support/stack';

describe('the OpenAPI document', () => {
  it('is up to date with the schemas the API validates with (npm run openapi)', () => {
    expect(readFileSync(join(__dirname, '..', '..', 'api', 'openapi.json'), 'utf8')).toBe(renderOpenApi());
  });

  it('is a valid OpenAPI 3.1 document', () => {
    const metaSchema = JSON.parse(
      readFileSync(require.resolve('@seriousme/openapi-schema-validator/schemas/v3.1/schema.json'), 'utf8'),
    ) as object;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(metaSchema);
    expect(validate(openApiDocument) ? [] : validate.errors).toEqual([]);
  });
});

describe('bad input over HTTP', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await Stack.start();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const valid = { orderId: 'o-1', amount: 100, currency: 'CNY', channel: 'sandboxpay' };
  const post = (body: unknown, headers: Record<string, string> = { 'idempotency-key': randomUUID() }) =>
    call(s.apiUrl, 'POST', '/payments', { body, headers });
  const fieldsOf = (res: { body: { error: { fields?: { field: string }[] } } }) =>
    res.body.error.fields?.map((f) => f.field).sort();

  function expectNoInternals(res: { body: unknown }): void {
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/\bat .*\.(ts|js):\d+|Error:|node_modules|stack/);
  }

  it('names each offending field of a payment request', async () => {
    const res = await post({ orderId: '', amount: 10.5, currency: 'cny' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(fieldsOf(res)).toEqual(['body.amount', 'body.channel', 'body.currency', 'body.orderId']);
    expectNoInternals(res);
    expect(fieldsOf(await post({ ...valid, currency: 'XYZ' }))).toEqual(['body.currency']);
    expect(fieldsOf(await post({ ...valid, amount: -5 }))).toEqual(['body.amount']);
    expect(fieldsOf(await post({ ...valid, amount: '100' }))).toEqual(['body.amount']);
    const extra = await post({ ...valid, discount: 5 });
    expect(extra.status).toBe(400);
    expect(extra.body.error.fields[0].message).toMatch(/unknown field\(s\): discount/);
  });

  it('requires an Idempotency-Key', async () => {
    const res = await post(valid, {});
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['header.Idempotency-Key']);
    expect(res.body.error.fields[0].message).toMatch(/Idempotency-Key/);
    expect((await post(valid, { 'idempotency-key': 'has spaces in it' })).status).toBe(400);
  });

  it('answers an unknown channel with 404', async () => {
    const res = await post({ ...valid, channel: 'paypal' });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/unknown payment channel "paypal"/);
    expect(
      (
        await call(s.apiUrl, 'POST', '/callbacks/paypal', {
          raw: '{}',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(404);
  });

  it('wants JSON: another content type is 415, broken JSON is 400, a huge body is 413', async () => {
    const key = { 'idempotency-key': randomUUID() };
    const text = await call(s.apiUrl, 'POST', '/payments', {
      raw: 'orderId=1',
      headers: { ...key, 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    const broken = await call(s.apiUrl, 'POST', '/payments', {
      raw: '{"orderId": ',
      headers: { ...key, 'content-type': 'application/json' },
    });
    expect(broken.status).toBe(400);
    expectNoInternals(broken);
    const huge = await post({ ...valid, orderId: 'x'.repeat(40_000) });
    expect(huge.status).toBe(413);
    const hugeCallback = await call(s.apiUrl, 'POST', '/callbacks/sandboxpay', {
      raw: 'x'.repeat(100_000),
      headers: { 'content-type': 'application/json' },
    });
    expect(hugeCallback.status).toBe(413);
  });

  it('checks path and query parameters', async () => {
    const badId = await call(s.apiUrl, 'GET', '/payments/not-a-uuid');
    expect(badId.status).toBe(400);
    expect(fieldsOf(badId)).toEqual(['path.id']);
    expect((await call(s.apiUrl, 'GET', `/payments/${randomUUID()}`)).status).toBe(404);
    expect((await call(s.apiUrl, 'GET', `/payments/${randomUUID()}/events`)).status).toBe(404);
    expect((await call(s.apiUrl, 'GET', `/payments/${randomUUID()}?live=maybe`)).status).toBe(400);
    expect((await call(s.apiUrl, 'POST', `/payments/${randomUUID()}/cancel`)).status).toBe(404);
    const cancelText = await call(s.apiUrl, 'POST', `/payments/${randomUUID()}/cancel`, {
      raw: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(cancelText.status).toBe(415);
    const key = { 'x-api-key': s.config.api.adminApiKey };
    const badStatus = await call(s.apiUrl, 'GET', '/admin/payments?status=PAID_MAYBE&olderThan=soon', { headers: key });
    expect(badStatus.status).toBe(400);
    expect(fieldsOf(badStatus)).toEqual(['query.olderThan', 'query.status']);
    expect((await call(s.apiUrl, 'POST', `/admin/payments/${randomUUID()}/requery`)).status).toBe(401);
  });

  it('refuses NUL and other control characters in every string, naming the field', async () => {
    // Each of these answered 500 before (PostgreSQL refuses NUL in text and jsonb).
    const nul = await post({ ...valid, orderId: 'o-1\u0000' });
    expect(nul.status).toBe(400);
    expect(nul.body.error.fields).toEqual([
      { field: 'body.orderId', message: expect.stringMatching(/control characters \(such as NUL\)/) },
    ]);
    for (const orderId of ['o\n1', 'o\u007f1', 'o\u00851', ' o-1', 'o-1\u00a0', '\ufeffo-1', 'x'.repeat(129)]) {
      expect(fieldsOf(await post({ ...valid, orderId }))).toEqual(['body.orderId']);
    }
    // A lone surrogate is valid JSON but not Unicode (node-postgres would store U+FFFD in its place).
    const lone = await call(s.apiUrl, 'POST', '/payments', {
      raw: JSON.stringify({ ...valid, orderId: 'PLACEHOLDER' }).replace('PLACEHOLDER', 'o\\ud800'),
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    });
    expect(fieldsOf(lone)).toEqual(['body.orderId']);
    expect(lone.body.error.fields[0].message).toMatch(/well-formed Unicode/);
    // What is allowed passes validation (an unknown channel then answers 404, so nothing is created): 128
    // characters counted as JSON Schema counts them, astral ones included, inner spaces, any script.
    for (const orderId of ['😀'.repeat(128), 'order 1 / 注文 #7', 'ü']) {
      const res = await post({ ...valid, orderId, channel: 'nochannel' });
      expect([res.status, res.body.error.message]).toEqual([404, 'unknown payment channel "nochannel"']);
    }
    const key = { 'x-api-key': s.config.api.adminApiKey };
    const cancel = await call(s.apiUrl, 'POST', `/payments/${randomUUID()}/cancel`, { body: { reason: 'no\u0000' } });
    expect(fieldsOf(cancel)).toEqual(['body.reason']);
    expect(fieldsOf(await call(s.apiUrl, 'GET', '/payments/%00'))).toEqual(['path.id']);
    expect(fieldsOf(await call(s.apiUrl, 'GET', '/admin/payments?status=%00', { headers: key }))).toEqual([
      'query.status',
    ]);
    expect(fieldsOf(await call(s.apiUrl, 'POST', '/callbacks/sand%00box', { raw: '{}' }))).toEqual(['path.channel']);
    expect(fieldsOf(await post(valid, { 'idempotency-key': 'k\u00e9y' }))).toEqual(['header.Idempotency-Key']);
  });

  it('bounds durations: olderThan is at most 3650d, beyond is a 400 naming it (not a 500)', async () => {
    const key = { 'x-api-key': s.config.api.adminApiKey };
    const list = (olderThan: string) =>
      call(s.apiUrl, 'GET', `/admin/payments?olderThan=${olderThan}`, { headers: key });
    for (const olderThan of ['99999999999999999999d', '3651d', '87601h', '315360000001ms', '0m', '010m']) {
      const res = await list(olderThan);
      expect([olderThan, res.status, fieldsOf(res)]).toEqual([olderThan, 400, ['query.olderThan']]);
    }
    expect((await list('99999999999999999999d')).body.error.fields[0].message).toMatch(/at most 3650d/);
    for (const olderThan of ['3650d', '87600h', '5256000m', '315360000s', '315360000000ms', '1ms']) {
      expect([olderThan, (await list(olderThan)).status]).toEqual([olderThan, 200]);
    }
    expect((await call(s.apiUrl, 'GET', '/admin/payments?limit=501', { headers: key })).status).toBe(400);
  });

  it('answers a method a path does not have with 405 and Allow, and a broken path with 400', async () => {
    const cases: [string, string, string][] = [
      ['DELETE', '/payments', 'POST, OPTIONS'],
      ['GET', '/payments', 'POST, OPTIONS'],
      ['PUT', `/payments/${randomUUID()}`, 'GET, HEAD, OPTIONS'],
      ['POST', `/payments/${randomUUID()}/events`, 'GET, HEAD, OPTIONS'],
      ['GET', '/callbacks/sandboxpay', 'POST, OPTIONS'],
      ['PATCH', '/healthz', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/openapi.json', 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${s.apiUrl}${path}`, { method });
      expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, 405, allow]);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
    // The admin key is checked first: without it, an operator path says nothing about its methods.
    expect((await fetch(`${s.apiUrl}/admin/payments`, { method: 'DELETE' })).status).toBe(401);
    const withKey = await fetch(`${s.apiUrl}/admin/payments`, {
      method: 'DELETE',
      headers: { 'x-api-key': s.config.api.adminApiKey },
    });
    expect([withKey.status, withKey.headers.get('allow')]).toEqual([405, 'GET, HEAD, OPTIONS']);
    expect((await fetch(`${s.apiUrl}/nowhere`, { method: 'DELETE' })).status).toBe(404);
    const options = await fetch(`${s.apiUrl}/callbacks/sandboxpay`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow')]).toEqual([200, 'POST']);

    const undecodable = await call(s.apiUrl, 'GET', '/payments/%E0%A4%A');
    expect([undecodable.status, undecodable.body.error.code]).toEqual([400, 'invalid_request']);
  });

  it('finds only configured channels: not constructor, not __proto__', async () => {
    for (const channel of ['constructor', '__proto__', 'tostring']) {
      expect((await post({ ...valid, channel })).status).toBe(404);
    }
    for (const channel of ['constructor', '__proto__', 'hasOwnProperty']) {
      const res = await call(s.apiUrl, 'POST', `/callbacks/${channel}`, { raw: '{}' });
      expect([channel, res.status]).toEqual([channel, channel === 'hasOwnProperty' ? 400 : 404]);
    }
  });

  it('leaves no payment behind after all that', async () => {
    expect(await s.t.db('payments').count({ n: '*' }).first()).toEqual({ n: 0 });
  });
});
