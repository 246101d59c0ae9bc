// Structured JSON logs. Secrets and payment payloads are redacted here, once, whatever a caller passes.
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Headers that carry a channel's signature or its key's identity, for every channel we speak (SandboxPay's, WeChat
 * Pay v3's, Stripe's; Alipay signs inside the form body, which is redacted as a whole).
 */
export const CHANNEL_SIGNATURE_HEADERS = [
  'x-sandboxpay-signature',
  'wechatpay-signature',
  'wechatpay-serial',
  'wechatpay-nonce',
  'stripe-signature',
];

// payment-signature: ours, on the notifications to the order service (activities/order-signature.ts).
const secretHeaders = ['authorization', 'x-api-key', 'cookie', 'payment-signature', ...CHANNEL_SIGNATURE_HEADERS];

export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
  'privateKey',
  '*.privateKey',
  // Stripe's adapter configuration (secret key, webhook signing secret) and the buyer's client secret.
  'secretKey',
  '*.secretKey',
  'webhookSecret',
  '*.webhookSecret',
  'clientSecret',
  '*.clientSecret',
  // WeChat Pay's API v3 key (it decrypts notifications), wherever a config section or channel object is logged.
  'apiV3Key',
  '*.apiV3Key',
  '*.*.apiV3Key',
  '*.*.privateKey',
  // The order-notification HMAC keys (config.orders.signingKeys), wherever the config or a section of it is logged.
  'signingKeys',
  '*.signingKeys',
  '*.*.signingKeys',
  'payload',
  '*.payload',
  'body',
  '*.body',
  // A Temporal activity's task token (base64) completes the activity: the SDK puts it in the meta of its activity
  // log lines (the worker logs them as `sdk`). It is dropped by the `sdk` serializer below; these catch it anywhere
  // else.
  'taskToken',
  '*.taskToken',
  ...secretHeaders.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
];

/**
 * The Temporal SDK's log meta (the worker's Runtime logger passes it as `sdk`): the activity or workflow it is about,
 * without the task token, and its error as type and message (the SDK hands an Error, which JSON would print as {}).
 */
export function serializeSdkMeta(meta: unknown): unknown {
  if (typeof meta !== 'object' || meta === null) return meta;
  const { taskToken: _token, error, ...rest } = meta as Record<string, unknown>;
  if (error === undefined) return rest;
  const err = error instanceof Error ? pino.stdSerializers.err(error) : error;
  // An ApplicationFailure's details may carry what an activity was given: not logged.
  const { details: _details, ...shown } = (
    typeof err === 'object' && err !== null ? err : { message: String(err) }
  ) as Record<string, unknown>;
  return { ...rest, error: shown };
}

/** Every process's logger options: its name on each line, redaction, ISO times. */
export function loggerOptions(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { sdk: serializeSdkMeta },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

export function createLogger(service: string, level?: string): Logger {
  return pino(loggerOptions(service, level));
}
