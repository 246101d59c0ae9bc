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
    expect(fieldsOf(res)).toEqual(['header']);
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

  it('leaves no payment behind after all that', async () => {
    expect(await s.t.db('payments').count({ n: '*' }).first()).toEqual({ n: 0 });
  });
});
