// The OpenAPI 3.1 document, built from the same zod schemas the handlers validate with. `npm run openapi` writes
// it to api/openapi.json (committed, served at GET /openapi.json); a test fails when the two differ.
import { z } from 'zod';
import { RETRY_AFTER_SECONDS } from './errors';
import {
  accepted,
  adminListQuery,
  callbackAck,
  cancelBody,
  channelParam,
  codecBody,
  codecError,
  codecLoginBody,
  createPaymentBody,
  errorResponse,
  health,
  idempotencyKeyHeader,
  liveQuery,
  operatorActionResult,
  operatorHeader,
  paymentIdParam,
  paymentEvents,
  paymentList,
  paymentResponse,
  readiness,
  renotifyBody,
  requeryBody,
  resolveBody,
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
/** Every 503 says when to come back: a channel retries its callback, the shop its request. */
const unavailable = (description: string) => ({
  description,
  headers: {
    'Retry-After': {
      description: `Seconds to wait before retrying (${RETRY_AFTER_SECONDS})`,
      required: true,
      schema: { type: 'integer', minimum: 1 },
    },
  },
  content: content('Error'),
});
const DATABASE_DOWN = 'the database is unavailable';

/**
 * A channel callback's answers are the channel's own: SandboxPay's and Stripe's are ours (JSON), WeChat Pay's are 204
 * or `{"code":"FAIL","message":...}`, Alipay's are the plain text `success` or `fail`.
 */
const callbackFailure = (description: string, extra: object = {}) => ({
  description,
  ...extra,
  content: {
    'application/json': { schema: { oneOf: [ref('Error'), ref('ChannelFail')] } },
    'text/plain': { schema: { type: 'string', const: 'fail' } },
  },
});

/** Parameters of one location, from the zod object the handler parses them with. */
function params(schema: z.ZodObject, where: 'path' | 'query', descriptions: Record<string, string> = {}) {
  const shape = json(schema, 'input') as { properties: Record<string, object>; required?: string[] };
  return Object.entries(shape.properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (shape.required?.includes(name) ?? false),
    ...(descriptions[name] ? { description: descriptions[name] } : {}),
    schema: s,
  }));
}
const paymentIdParams = params(paymentIdParam, 'path', { id: 'Payment id' });
/** Every operator action names who asks. */
const operatorParam = {
  name: 'X-Operator',
  in: 'header',
  required: true,
  description: 'The operator who asks: recorded with the reason in the audit log',
  schema: json(operatorHeader, 'input'),
};
const adminKey = [{ adminApiKey: [] }];
/** The codec server takes the admin key (X-Api-Key or Bearer) or the session cookie of /codec/login. */
const codecAuth = [{ adminApiKey: [] }, { codecBearer: [] }, { codecSession: [] }];
const htmlPage = (description: string, extra: object = {}) => ({
  description,
  ...extra,
  content: { 'text/html': { schema: { type: 'string' } } },
});
/** One codec operation of Temporal's codec server contract. */
const codecOperation = (operation: 'encode' | 'decode') => ({
  operationId: operation === 'encode' ? 'codecEncode' : 'codecDecode',
  summary:
    operation === 'encode'
      ? "Codec server: encrypt payloads with the service's payload codec (Temporal Web UI / CLI)"
      : "Codec server: decrypt payloads with the service's payload codec (Temporal Web UI / CLI)",
  description:
    'Temporal\'s codec server contract: `{"payloads": [...]}` in protobuf JSON (metadata values and data base64), ' +
    'answered in the same form and order. The Web UI calls it with its namespace in X-Namespace (not checked: the ' +
    "keys are this deployment's). " +
    (operation === 'encode'
      ? 'With PAYLOAD_ENCRYPTION=off, or no key configured, payloads come back as they were sent.'
      : 'Payloads that are not encrypted come back as they were; without any key configured, all of them do.') +
    ' Credentials: the admin key as X-Api-Key or `Authorization: Bearer <key>` (the CLI: --codec-auth), or the ' +
    'session cookie set by POST /codec/login (the Web UI with "include cross-origin credentials"). CORS allows the ' +
    "Web UI's origins (CODEC_CORS_ORIGINS) with credentials.",
  security: codecAuth,
  parameters: [
    {
      name: 'X-Namespace',
      in: 'header',
      required: false,
      description: 'The namespace the payloads belong to (sent by the Web UI)',
      schema: { type: 'string' },
    },
  ],
  requestBody: { required: true, content: content('CodecPayloads') },
  responses: {
    '200': { description: `The ${operation}d payloads, in order`, content: content('CodecPayloadsResult') },
    '400': error('Not JSON, or `payloads` is not a list of Payloads in protobuf JSON (the field is named)'),
    '401': error('No valid credential: admin key (X-Api-Key or Bearer) or session cookie'),
    '413': error('Body too large'),
    '415': error('Body is not application/json'),
    ...(operation === 'decode'
      ? {
          '422': {
            description:
              'A payload is encrypted with a key that is not configured here, or fails authentication: the error ' +
              'names its key id and its index; nothing of the request is decoded',
            content: content('CodecError'),
          },
        }
      : {}),
  },
});
/** The answers every operator action may give besides its own success. */
const operatorErrors = {
  '400': error('Malformed id, body or X-Operator (the field is named)'),
  '401': error('Missing or wrong X-Api-Key'),
  '404': error('No such payment'),
  '409': error('The action does not apply to the payment as it is (the message says why); nothing changed'),
  '413': error('Body too large'),
  '415': error('A body that is not application/json'),
  '503': unavailable(`The workflow, the channel or the order service did not answer, or ${DATABASE_DOWN}; retry`),
};

/** Where a created payment leads: its own operations, with the id from the response (stateful testing uses them). */
const paymentLinks = {
  GetPayment: { operationId: 'getPayment', parameters: { id: '$response.body#/paymentId' } },
  PaymentEvents: { operationId: 'paymentEvents', parameters: { id: '$response.body#/paymentId' } },
  CancelPayment: { operationId: 'cancelPayment', parameters: { id: '$response.body#/paymentId' } },
  RequeryPayment: { operationId: 'requeryPayment', parameters: { id: '$response.body#/paymentId' } },
};

/**
 * One event of the push stream. OpenAPI 3.1 has no schema for the items of a stream (3.2 adds `itemSchema`); tools
 * for 3.1 that read event streams (Schemathesis among them) take the media type's `schema` to describe each event,
 * as the parsed fields of one SSE block, with the JSON in `data` described by contentMediaType + contentSchema.
 */
const statusEventMessage = {
  type: 'object',
  description: 'One Server-Sent Event: `event: status`, `id: <n>` (use as Last-Event-ID), `data: <StatusEvent JSON>`',
  properties: {
    event: { const: 'status' },
    id: { type: 'string', pattern: '^[0-9]+$' },
    data: { type: 'string', contentMediaType: 'application/json', contentSchema: ref('StatusEvent') },
    retry: { type: 'integer', minimum: 0 },
  },
  required: ['event', 'id', 'data'],
};

export function buildOpenApi(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Payment orchestration',
      version: '0.1.0',
      description:
        'Payments as Temporal workflows that never drop an order: create a payment, receive channel callbacks, ' +
        'follow its status by polling or server push. Money is integer minor units plus an ISO 4217 currency. ' +
        'Strings never hold control characters (NUL, newline, ...) and must be well-formed Unicode: 400 naming the ' +
        'field. A method a path does not support is 405 with an Allow header. While the database (or Temporal) ' +
        `cannot be reached, answers are 503 with Retry-After (${RETRY_AFTER_SECONDS} s).`,
    },
    servers: [{ url: 'http://localhost:3000' }],
    components: {
      securitySchemes: {
        adminApiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        codecBearer: { type: 'http', scheme: 'bearer', description: 'The admin API key as a bearer token' },
        codecSession: { type: 'apiKey', in: 'cookie', name: 'codec_session', description: 'Set by POST /codec/login' },
      },
      schemas: {
        CreatePayment: json(createPaymentBody, 'input'),
        Payment: json(paymentResponse),
        PaymentList: json(paymentList),
        PaymentEvents: json(paymentEvents),
        Accepted: json(accepted),
        OperatorActionResult: json(operatorActionResult),
        CallbackAck: json(callbackAck),
        ChannelFail: {
          type: 'object',
          description: "WeChat Pay's answer to a notification it must send again",
          properties: { code: { const: 'FAIL' }, message: { type: 'string' } },
          required: ['code', 'message'],
        },
        StatusEvent: json(statusEvent),
        StatusEventMessage: statusEventMessage,
        Cancel: json(cancelBody, 'input'),
        Error: json(errorResponse),
        Health: json(health),
        CodecPayloads: json(codecBody, 'input'),
        CodecPayloadsResult: json(codecBody),
        CodecLogin: json(codecLoginBody, 'input'),
        CodecError: json(codecError),
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
              schema: json(idempotencyKeyHeader, 'input'),
            },
          ],
          requestBody: { required: true, content: content('CreatePayment') },
          responses: {
            '201': {
              description: 'Created; payUrl is where the buyer pays',
              headers: { Location: { schema: { type: 'string' } } },
              content: content('Payment'),
              links: paymentLinks,
            },
            '200': {
              description: 'A replay of an earlier request with this key',
              content: content('Payment'),
              links: paymentLinks,
            },
            '202': {
              description: 'Created; the channel has not given a pay URL yet (poll or listen)',
              content: content('Payment'),
              links: paymentLinks,
            },
            '400': error('Invalid body or header; `fields` names each problem'),
            '404': error('Unknown payment channel'),
            '409': error('Idempotency-Key reused with another body'),
            '413': error('Body too large'),
            '415': error('Body is not application/json'),
            '503': unavailable(
              `Recorded, but processing could not start, or ${DATABASE_DOWN}; retry with the same key`,
            ),
          },
        },
      },
      '/payments/{id}': {
        get: {
          operationId: 'getPayment',
          summary: "A payment's state (from the database; ?live=1 asks the workflow)",
          parameters: [...paymentIdParams, ...params(liveQuery, 'query')],
          responses: {
            '200': { description: 'The payment', content: content('Payment') },
            '400': error('Malformed id or query'),
            '404': error('No such payment'),
            '503': unavailable(`The workflow did not answer (live only), or ${DATABASE_DOWN}`),
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
            ...paymentIdParams,
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description:
                'An event stream (text/event-stream) of status events, each described by StatusEventMessage; it ' +
                'ends after the final state. Also carries `retry:` and keep-alive comment lines, which are not events.',
              content: { 'text/event-stream': { schema: ref('StatusEventMessage') } },
            },
            '204': { description: 'Nothing more will come: the final state was already delivered' },
            '400': error('Malformed id'),
            '404': error('No such payment'),
            '503': unavailable(DATABASE_DOWN),
          },
        },
      },
      '/payments/{id}/cancel': {
        post: {
          operationId: 'cancelPayment',
          summary: 'The buyer gives up: close the payment at the channel (a payment already made wins)',
          parameters: paymentIdParams,
          requestBody: { required: false, content: content('Cancel') },
          responses: {
            '202': { description: 'Cancellation requested', content: content('Accepted') },
            '400': error('Malformed id or body'),
            '404': error('No such payment'),
            '409': error('Already final'),
            '413': error('Body too large'),
            '415': error('Body is not application/json'),
            '503': unavailable(`The workflow could not be reached, or ${DATABASE_DOWN}; retry`),
          },
        },
      },
      '/callbacks/{channel}': {
        post: {
          operationId: 'channelCallback',
          summary: "A payment channel's notification (signed); becomes a signal to the payment's workflow",
          description:
            '2xx only once the callback is durably accepted (recorded and signalled); 5xx when anything on our side ' +
            'fails, so the channel retries. Each channel is answered in its own words: SandboxPay and Stripe with ' +
            'the JSON below, WeChat Pay with 204 or {"code":"FAIL","message":...}, Alipay with the text `success` ' +
            '(anything else: it retries). SandboxPay signs with X-SandboxPay-Timestamp and X-SandboxPay-Signature: ' +
            'v1=hex(HMAC-SHA256(secret, timestamp + "." + rawBody)), 5 minutes of clock skew allowed; WeChat Pay ' +
            'with Wechatpay-Signature (RSA-SHA256, platform key by Wechatpay-Serial) over an AES-GCM encrypted ' +
            'resource; Alipay with RSA2 over the form fields; Stripe with Stripe-Signature (t=...,v1=...).',
          parameters: params(channelParam, 'path'),
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { type: 'object' } },
              'application/x-www-form-urlencoded': { schema: { type: 'object' } },
            },
          },
          responses: {
            '200': {
              description: 'Durably accepted (or a duplicate, or answered from the database)',
              content: {
                ...content('CallbackAck'),
                'text/plain': { schema: { type: 'string', const: 'success', description: "Alipay's answer" } },
              },
            },
            '204': { description: "Durably accepted: WeChat Pay's answer" },
            '400': callbackFailure(
              'Signed, but unreadable (not JSON, a field missing, a control character, ...); or a malformed channel name',
            ),
            '401': callbackFailure(
              'Signature missing or wrong, or its timestamp outside the allowed clock skew, or signed for another ' +
                'merchant: nothing changed (the rejection is recorded)',
            ),
            '404': callbackFailure('Unknown channel or payment'),
            '413': error('Body too large'),
            '415': error('Content-Encoding not supported'),
            '500': callbackFailure('Not accepted: our failure, retry'),
            '503': callbackFailure(`Not accepted now (${DATABASE_DOWN}, or Temporal did not answer): retry`, {
              headers: {
                'Retry-After': {
                  description: `Seconds to wait before retrying (${RETRY_AFTER_SECONDS}); absent in a channel's own answer`,
                  schema: { type: 'integer', minimum: 1 },
                },
              },
            }),
          },
        },
      },
      '/admin/payments': {
        get: {
          operationId: 'listPayments',
          summary: 'Find payments, e.g. ?status=PAYING&olderThan=10m, or ?unacknowledged=true (oldest first)',
          security: adminKey,
          parameters: params(adminListQuery, 'query'),
          responses: {
            '200': { description: 'Matching payments', content: content('PaymentList') },
            '400': error('Invalid query'),
            '401': error('Missing or wrong X-Api-Key'),
            '503': unavailable(DATABASE_DOWN),
          },
        },
      },
      '/admin/payments/{id}/events': {
        get: {
          operationId: 'paymentAuditLog',
          summary: "A payment's story: every callback, query, operator action, anomaly and repair, and its transitions",
          security: adminKey,
          parameters: paymentIdParams,
          responses: {
            '200': { description: 'The audit log, oldest first', content: content('PaymentEvents') },
            '400': error('Malformed id'),
            '401': error('Missing or wrong X-Api-Key'),
            '404': error('No such payment'),
            '503': unavailable(DATABASE_DOWN),
          },
        },
      },
      '/admin/payments/{id}/requery': {
        post: {
          operationId: 'requeryPayment',
          summary: "Ask the channel about a payment now (operator's requery)",
          description:
            'While the payment workflow runs, it queries at once and acts on the answer (202). Once it has ended, the ' +
            "payment's operator workflow asks the channel and answers with what it says (200); a success after an " +
            'unpaid end is a late success, refunded or left for review by LATE_SUCCESS_POLICY. Audited with the ' +
            'operator and reason.',
          security: adminKey,
          parameters: [...paymentIdParams, operatorParam],
          requestBody: { required: false, content: { 'application/json': { schema: json(requeryBody, 'input') } } },
          responses: {
            '200': { description: "The channel's answer, and what was done", content: content('OperatorActionResult') },
            '202': { description: 'The workflow will query the channel', content: content('Accepted') },
            ...operatorErrors,
          },
        },
      },
      '/admin/payments/{id}/renotify': {
        post: {
          operationId: 'renotifyPayment',
          summary: 'Tell the order service the payment result again (operator)',
          description:
            'While the order service is still being retried, the next attempt starts now (its backoff starts over). ' +
            'Once acknowledged (or after the workflow ended), the same notice is sent again with the same ' +
            'idempotency key, so the order service applies it at most once. Refused (409) while the payment is not ' +
            'decided. Audited with the operator and reason.',
          security: adminKey,
          parameters: [...paymentIdParams, operatorParam],
          requestBody: { required: true, content: { 'application/json': { schema: json(renotifyBody, 'input') } } },
          responses: {
            '200': { description: 'What was done', content: content('OperatorActionResult') },
            ...operatorErrors,
          },
        },
      },
      '/admin/payments/{id}/resolve': {
        post: {
          operationId: 'resolvePayment',
          summary: 'Settle a payment waiting for review (NEEDS_REVIEW): refund, accept or close, with a reason',
          description:
            'refund: the channel refunds the buyer (REFUNDED once it confirms); refused if the channel never received ' +
            'the payment. accept: the order service is told the payment is paid (ACCEPTED); refused if it refuses. ' +
            'close: nothing more is done (REVIEW_CLOSED); an order that was never told a result is told CLOSED. ' +
            'Refused (409) for a payment not in NEEDS_REVIEW. Audited with the operator and reason.',
          security: adminKey,
          parameters: [...paymentIdParams, operatorParam],
          requestBody: { required: true, content: { 'application/json': { schema: json(resolveBody, 'input') } } },
          responses: {
            '200': { description: 'What was done', content: content('OperatorActionResult') },
            ...operatorErrors,
          },
        },
      },
      '/codec/encode': { post: codecOperation('encode') },
      '/codec/decode': { post: codecOperation('decode') },
      '/codec/login': {
        get: {
          operationId: 'codecLoginPage',
          summary: 'Codec server: the page where an operator signs a browser in with the admin key (for the Web UI)',
          responses: { '200': htmlPage('The sign-in form, or when signed in, until when and a sign-out button') },
        },
        post: {
          operationId: 'codecLogin',
          summary: 'Codec server: sign a browser in with the admin key; sets the session cookie',
          description:
            'The cookie (codec_session) is HttpOnly, SameSite=Lax, Path=/codec, Secure when API_PUBLIC_URL is https, ' +
            'and lasts 8 hours; its value is an HMAC of its expiry under a key derived from the admin key.',
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': { schema: ref('CodecLogin') },
              'application/json': { schema: ref('CodecLogin') },
            },
          },
          responses: {
            '200': htmlPage('Signed in', {
              headers: { 'Set-Cookie': { required: true, schema: { type: 'string' } } },
            }),
            '400': error('`key` missing or malformed'),
            '401': htmlPage('Not the admin key: the form again, no cookie'),
            '413': error('Body too large'),
            '415': error('Neither a form nor application/json'),
          },
        },
      },
      '/codec/logout': {
        post: {
          operationId: 'codecLogout',
          summary: "Codec server: end this browser's session (clears the cookie)",
          responses: { '200': htmlPage('Signed out: the sign-in form') },
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
