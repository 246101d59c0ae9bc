// Structured JSON logs. Secrets and payment payloads are redacted here, once, whatever a caller passes.
import pino, { type Logger } from 'pino';

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
  ...secretHeaders.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
];

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
