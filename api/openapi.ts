// The OpenAPI 3.1 document, built from the same zod schemas the handlers validate with. `npm run openapi` writes
// it to api/openapi.json (committed, served at GET /openapi.json); a test fails when the two differ.
import { z } from 'zod';
import {
  accepted,
  adminListQuery,
  callbackAck,
  cancelBody,
  createPaymentBody,
  errorResponse,
  health,
  paymentList,
  paymentResponse,
  readiness,
  statusEvent,
} from './schemas';

type Schema = z.ZodType;

const json = (schema: Schema, io: 'input' | 'output' = 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const content = (name: string) => ({ 'application/json': { schema: ref(name) } });
const error = (description: string) => ({ description, content: content('Error') });

const paymentIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Payment id',
  schema: { type: 'string', format: 'uuid' },
};
const adminKey = [{ adminApiKey: [] }];

function queryParams(schema: z.ZodObject) {
  const shape = json(schema, 'input') as { properties: Record<string, object>; required?: string[] };
  return Object.entries(shape.properties).map(([name, s]) => ({
    name,
    in: 'query',
    required: shape.required?.includes(name) ?? false,
    schema: s,
  }));
}

export function buildOpenApi(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Payment orchestration',
      version: '0.1.0',
      description:
        'Payments as Temporal workflows that never drop an order: create a payment, receive channel callbacks, ' +
        'follow its status by polling or server push. Money is integer minor units plus an ISO 4217 currency.',
    },
    servers: [{ url: 'http://localhost:3000' }],
    components: {
      securitySchemes: { adminApiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } },
      schemas: {
        CreatePayment: json(createPaymentBody, 'input'),
        Payment: json(paymentResponse),
        PaymentList: json(paymentList),
        Accepted: json(accepted),
        CallbackAck: json(callbackAck),
        StatusEvent: json(statusEvent),
        Cancel: json(cancelBody, 'input'),
        Error: json(errorResponse),
        Health: json(health),
        Readiness: json(readiness),
      },
    },
    paths: {
      '/payments': {
        post: {
          operationId: 'createPayment',
          summary: 'Create a payment (idempotent on Idempotency-Key) and get the pay URL',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: true,
              description: 'Same key and body: the same payment again (200). Same key, other body: 409.',
              schema: { type: 'string', minLength: 1, maxLength: 255 },
            },
          ],
          requestBody: { required: true, content: content('CreatePayment') },
          responses: {
            '201': {
              description: 'Created; payUrl is where the buyer pays',
              headers: { Location: { schema: { type: 'string' } } },
              content: content('Payment'),
            },
            '200': { description: 'A replay of an earlier request with this key', content: content('Payment') },
            '202': {
              description: 'Created; the channel has not given a pay URL yet (poll or listen)',
              content: content('Payment'),
            },
            '400': error('Invalid body or header; `fields` names each problem'),
            '404': error('Unknown payment channel'),
            '409': error('Idempotency-Key reused with another body'),
            '413': error('Body too large'),
            '415': error('Body is not application/json'),
            '503': error('Recorded, but processing could not start; retry with the same key'),
          },
        },
      },
      '/payments/{id}': {
        get: {
          operationId: 'getPayment',
          summary: "A payment's state (from the database; ?live=1 asks the workflow)",
          parameters: [
            paymentIdParam,
            { name: 'live', in: 'query', required: false, schema: { enum: ['0', '1', 'true', 'false'] } },
          ],
          responses: {
            '200': { description: 'The payment', content: content('Payment') },
            '400': error('Malformed id or query'),
            '404': error('No such payment'),
            '503': error('The workflow did not answer (live only)'),
          },
        },
      },
      '/payments/{id}/events': {
        get: {
          operationId: 'paymentEvents',
          summary: 'Server-Sent Events: every status change until a final state',
          description:
            'Each event is `event: status`, `id: <n>`, `data: <StatusEvent JSON>`. Reconnect with Last-Event-ID to ' +
            'resume without missing a change; 204 once the client has seen the final state.',
          parameters: [
            paymentIdParam,
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'An event stream of StatusEvent',
              content: { 'text/event-stream': { schema: { type: 'string' }, 'x-itemSchema': ref('StatusEvent') } },
            },
            '204': { description: 'Nothing more will come: the final state was already delivered' },
            '400': error('Malformed id'),
            '404': error('No such payment'),
          },
        },
      },
      '/payments/{id}/cancel': {
        post: {
          operationId: 'cancelPayment',
          summary: 'The buyer gives up: close the payment at the channel (a payment already made wins)',
          parameters: [paymentIdParam],
          requestBody: { required: false, content: content('Cancel') },
          responses: {
            '202': { description: 'Cancellation requested', content: content('Accepted') },
            '400': error('Malformed id or body'),
            '404': error('No such payment'),
            '409': error('Already final'),
            '415': error('Body is not application/json'),
            '503': error('The workflow could not be reached; retry'),
          },
        },
      },
      '/callbacks/{channel}': {
        post: {
          operationId: 'channelCallback',
          summary: "A payment channel's notification (signed); becomes a signal to the payment's workflow",
          description:
            '2xx only once the callback is durably accepted (recorded and signalled); 5xx when anything on our side ' +
            'fails, so the channel retries. SandboxPay signs with X-SandboxPay-Timestamp and X-SandboxPay-Signature: ' +
            'v1=hex(HMAC-SHA256(secret, timestamp + "." + rawBody)), 5 minutes of clock skew allowed.',
          parameters: [{ name: 'channel', in: 'path', required: true, schema: { type: 'string' } }],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
          responses: {
            '200': {
              description: 'Durably accepted (or a duplicate, or answered from the database)',
              content: content('CallbackAck'),
            },
            '400': error('Signed, but unreadable'),
            '401': error('Signature missing, wrong or stale: nothing changed'),
            '404': error('Unknown channel or payment'),
            '413': error('Body too large'),
            '503': error('Not accepted now: retry'),
          },
        },
      },
      '/admin/payments': {
        get: {
          operationId: 'listPayments',
          summary: 'Find payments, e.g. ?status=PAYING&olderThan=10m (oldest first)',
          security: adminKey,
          parameters: queryParams(adminListQuery),
          responses: {
            '200': { description: 'Matching payments', content: content('PaymentList') },
            '400': error('Invalid query'),
            '401': error('Missing or wrong X-Api-Key'),
          },
        },
      },
      '/admin/payments/{id}/requery': {
        post: {
          operationId: 'requeryPayment',
          summary: "Ask the channel about a payment now (operator's requery)",
          security: adminKey,
          parameters: [paymentIdParam],
          responses: {
            '202': { description: 'The workflow will query the channel', content: content('Accepted') },
            '400': error('Malformed id'),
            '401': error('Missing or wrong X-Api-Key'),
            '404': error('No such payment'),
            '409': error('The workflow has finished'),
            '503': error('The workflow could not be reached; retry'),
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Liveness',
          responses: { '200': { description: 'Alive', content: content('Health') } },
        },
      },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Readiness: PostgreSQL and Temporal answer',
          responses: {
            '200': { description: 'Ready', content: content('Readiness') },
            '503': { description: 'Not ready; checks say why', content: content('Readiness') },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics of this API process',
          responses: {
            '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: {
            '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
    },
  };
}
