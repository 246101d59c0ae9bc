// The order-service contract (docs/order-service.openapi.yaml) is a valid OpenAPI 3.1 document, describes the request
// our notifier really sends, and describes what the reference order service really answers, case by case.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import express from 'express';
import pino from 'pino';
import { parse } from 'yaml';
import { createHttpOrderNotifier, paymentResultBody, type PaymentResultNotice } from '../../activities/order-notifier';
import { SIGNATURE_HEADER, signPayload, verifySignature } from '../../activities/order-signature';
import { createOrderService, ensureOrderServiceSchema } from '../../sandbox/order-service';
import { createTestDatabase, type TestDatabase } from '../support/env';
import { listen } from '../support/http';

const KEYS = [{ id: 'contract', secret: 'contract-test-order-notify-key-8e1f4b27c90d3a65' }];
const doc = parse(readFileSync(join(__dirname, '..', '..', 'docs', 'order-service.openapi.yaml'), 'utf8')) as {
  paths: Record<string, { post: { responses: Record<string, unknown>; parameters: { name: string }[] } }>;
  components: { schemas: { PaymentResult: { examples: PaymentResultNotice[] } } };
};
const OPERATION = doc.paths['/orders/{orderId}/payment-result']!.post;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: 'order-service.json' });
const schema = (pointer: string) => ajv.getSchema(`order-service.json#${pointer}`) ?? ajv.compile({ $ref: pointer });

/** Checks an answer against the document: a documented status, and a body matching its schema. */
function expectDocumented(status: number, body: unknown): void {
  expect({ status, documented: String(status) in OPERATION.responses }).toEqual({ status, documented: true });
  const validate = schema(
    `/paths/~1orders~1{orderId}~1payment-result/post/responses/${status}/content/application~1json/schema`,
  );
  expect({ status, body, errors: validate(body) ? null : ajv.errorsText(validate.errors) }).toEqual({
    status,
    body,
    errors: null,
  });
}

describe('the order-service contract document', () => {
  it('is a valid OpenAPI 3.1 document', () => {
    const metaSchema = JSON.parse(
      readFileSync(require.resolve('@seriousme/openapi-schema-validator/schemas/v3.1/schema.json'), 'utf8'),
    ) as object;
    const meta = new Ajv2020({ strict: false, allErrors: true });
    addFormats(meta);
    meta.addFormat('media-range', true); // the meta-schema's own format for media types, not checked here
    const validate = meta.compile(metaSchema);
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
  });

  it('describes the request our notifier sends: path, Idempotency-Key, body and a signature that verifies', async () => {
    const seen: { path: string; headers: Record<string, unknown>; raw: Buffer }[] = [];
    const app = express();
    app.post('/orders/:id/payment-result', express.raw({ type: () => true }), (req, res) => {
      seen.push({ path: req.path, headers: req.headers, raw: req.body as Buffer });
      res.json({ accepted: true, orderStatus: 'PAID' });
    });
    const http = await listen(app);
    try {
      const notice = doc.components.schemas.PaymentResult.examples[0]!;
      await createHttpOrderNotifier({ url: http.url, signingKeys: KEYS }).notify(notice);
      const [request] = seen;
      expect(request!.path).toBe(`/orders/${notice.orderId}/payment-result`);
      expect(request!.headers['idempotency-key']).toBe(notice.idempotencyKey);
      const body: unknown = JSON.parse(request!.raw.toString('utf8'));
      const validate = schema('/components/schemas/PaymentResult');
      expect(validate(body) ? null : ajv.errorsText(validate.errors)).toBeNull();
      expect(body).toEqual(notice);
      const header = request!.headers[SIGNATURE_HEADER.toLowerCase()] as string;
      expect(verifySignature(header, request!.raw, KEYS, { nowS: Date.now() / 1000 })).toMatchObject({ ok: true });
      expect(OPERATION.parameters.map((p) => p.name)).toEqual(['orderId', 'Idempotency-Key']);
    } finally {
      await http.close();
    }
  });
});

describe('the reference order service, against the contract', () => {
  let t: TestDatabase;
  let http: Awaited<ReturnType<typeof listen>>;
  const service = () => http.url;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
    await ensureOrderServiceSchema(t.db);
    const orders = createOrderService({
      db: t.db,
      seed: 'contract',
      logger: pino({ level: 'silent' }),
      signingKeys: KEYS,
    });
    http = await listen(orders.app);
    for (const [orderId, amount] of [
      ['o-1', 2599],
      ['o-paid', 100],
      ['o-cancelled', 100],
      ['o-amount', 100],
    ] as const) {
      await fetch(`${service()}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId, amount, currency: 'CNY' }),
      });
    }
    await fetch(`${service()}/orders/o-cancelled/cancel`, { method: 'POST' });
  });
  afterAll(async () => {
    await http?.close();
    await t?.drop();
  });

  async function post(
    notice: PaymentResultNotice,
    { sign = true, nowS = Date.now() / 1000, raw }: { sign?: boolean; nowS?: number; raw?: string } = {},
  ) {
    const body = raw ?? paymentResultBody(notice);
    const res = await fetch(`${service()}/orders/${notice.orderId}/payment-result`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': notice.idempotencyKey,
        ...(sign ? { [SIGNATURE_HEADER]: signPayload(KEYS, body, nowS) } : {}),
      },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const result = (orderId: string, over: Partial<PaymentResultNotice> = {}): PaymentResultNotice => ({
    orderId,
    paymentId: `p-${orderId}`,
    status: 'SUCCESS',
    amount: 100,
    currency: 'CNY',
    idempotencyKey: `k-${orderId}-${over.paymentId ?? ''}-${over.status ?? 'SUCCESS'}`,
    ...over,
  });

  it('takes the example of the document, once, and answers each documented case as documented', async () => {
    const example = doc.components.schemas.PaymentResult.examples[0]!;
    const cases: [string, Awaited<ReturnType<typeof post>>, number, Record<string, unknown>][] = [
      ['the example, paid', await post(example), 200, { accepted: true, orderStatus: 'PAID' }],
      ['the same key again', await post(example), 200, { accepted: true, orderStatus: 'PAID' }],
      ['an unpaid outcome', await post(result('o-amount', { status: 'CLOSED' })), 200, { accepted: true }],
      ['cancelled', await post(result('o-cancelled')), 200, { accepted: false, reason: 'order_cancelled' }],
      ['amount', await post(result('o-amount', { amount: 99 })), 200, { accepted: false, reason: 'amount_mismatch' }],
      ['paid once', await post(result('o-paid')), 200, { accepted: true, orderStatus: 'PAID' }],
      ['paid again', await post(result('o-paid', { paymentId: 'p-2' })), 200, { reason: 'already_paid' }],
      ['unsigned', await post(result('o-amount'), { sign: false }), 401, { error: 'signature_missing' }],
      ['stale', await post(result('o-amount'), { nowS: Date.now() / 1000 - 301 }), 401, { error: 'signature_stale' }],
      ['unknown order', await post(result('o-nobody')), 404, { error: 'order_not_found' }],
      ['unreadable', await post(result('o-amount'), { raw: '{"orderId":' }), 400, { error: 'invalid_json' }],
      ['invalid', await post(result('o-amount', { amount: -1 })), 400, { error: 'invalid_request' }],
    ];
    for (const [name, answer, status, fields] of cases) {
      expect({ name, status: answer.status }).toEqual({ name, status });
      expect({ name, body: answer.body }).toEqual({ name, body: expect.objectContaining(fields) });
      expectDocumented(answer.status, answer.body);
    }
    // The two posts of the example were one transition.
    const order = (await (await fetch(`${service()}/orders/o-1`)).json()) as { transitions: unknown[] };
    expect(order.transitions).toHaveLength(1);
  });

  it('answers 503 during an outage, as documented', async () => {
    await fetch(`${service()}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outageForMs: 60_000 }),
    });
    try {
      const answer = await post(result('o-amount', { status: 'FAILED' }));
      expect(answer.status).toBe(503);
      expectDocumented(answer.status, answer.body);
    } finally {
      await fetch(`${service()}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ outageUntil: null }),
      });
    }
  });
});
