// A WeChat Pay v3 payment notification, from raw bytes to a callback the workflow can trust as far as it goes: the
// signature first (platform key by Wechatpay-Serial, 5 minutes of skew), then the envelope, then the `resource`
// decrypted with the API v3 key, then the merchant checks the vendor mandates (our mchid and appid). Amount,
// currency and the channel's id are compared with the payment by the workflow (a mismatch: the query decides).
import { z } from 'zod';
import type { ChannelState } from '../../workflows/states';
import type { CallbackVerification } from '../types';
import { decryptResource, type PlatformKeys, ResourceDecryptionError, verifySignature } from './crypto';
import { compactPaymentId, paymentIdFromCompact } from '../references';

/** WeChat Pay's trade_state words, as the service's channel states (DESIGN.md). */
export const TRADE_STATES: Record<string, ChannelState> = {
  SUCCESS: 'SUCCESS',
  REFUND: 'SUCCESS', // paid, then (partly) refunded: the money moved
  NOTPAY: 'PENDING',
  USERPAYING: 'PENDING',
  CLOSED: 'CLOSED',
  REVOKED: 'CLOSED',
  PAYERROR: 'FAILED',
};

/** Our payment id as WeChat Pay's out_trade_no (6 to 32 of [0-9A-Za-z_|*-]): its 32 hex digits, and back. */
export const toOutTradeNo = compactPaymentId;
export const fromOutTradeNo = paymentIdFromCompact;

const envelopeSchema = z.object({
  id: z.string().min(1).max(64),
  create_time: z.string(),
  event_type: z.string().min(1),
  resource_type: z.literal('encrypt-resource'),
  resource: z.object({
    algorithm: z.string(),
    ciphertext: z.string().min(1),
    nonce: z.string().min(1),
    associated_data: z.string().optional(),
    original_type: z.string().optional(),
  }),
});

const transactionSchema = z.object({
  mchid: z.string(),
  appid: z.string(),
  out_trade_no: z.string(),
  transaction_id: z.string().min(1),
  trade_state: z.string().min(1),
  trade_state_desc: z.string().max(256).optional(),
  success_time: z.string().optional(),
  amount: z.object({ total: z.number().int().nonnegative(), currency: z.string().regex(/^[A-Z]{3}$/) }),
});

/** WeChat Pay says why a trade failed (PAYERROR) or closed in trade_state_desc: the reason, for those states only. */
export function tradeReason(state: ChannelState, tradeStateDesc: string | undefined): { reason?: string } {
  const reason = tradeStateDesc?.trim();
  return reason && (state === 'FAILED' || state === 'CLOSED') ? { reason } : {};
}

export interface WechatPayNotificationContext {
  keys: PlatformKeys;
  apiV3Key: string;
  mchId: string;
  appId: string;
  /** Told about a trade_state word we do not know (it counts as pending). */
  onUnknownState?: (state: string) => void;
}

export function verifyNotification(
  rawBody: Buffer,
  header: (name: string) => string | undefined,
  nowMs: number,
  ctx: WechatPayNotificationContext,
): CallbackVerification {
  const body = rawBody.toString('utf8');
  const signature = verifySignature(header, body, ctx.keys, nowMs);
  if (!signature.ok) {
    return signature.reason === 'unknown_serial'
      ? { ok: false, reason: 'bad_signature', detail: 'no platform key has that Wechatpay-Serial' }
      : { ok: false, reason: signature.reason };
  }
  let envelope: z.infer<typeof envelopeSchema>;
  let transaction: z.infer<typeof transactionSchema>;
  try {
    envelope = envelopeSchema.parse(JSON.parse(body));
    transaction = transactionSchema.parse(JSON.parse(decryptResource(envelope.resource, ctx.apiV3Key)));
  } catch (err) {
    const detail = err instanceof ResourceDecryptionError ? 'the resource did not decrypt' : undefined;
    return { ok: false, reason: 'malformed_body', ...(detail ? { detail } : {}) };
  }
  if (transaction.mchid !== ctx.mchId || transaction.appid !== ctx.appId)
    return { ok: false, reason: 'wrong_merchant' };
  const paymentId = fromOutTradeNo(transaction.out_trade_no);
  if (!paymentId) return { ok: false, reason: 'malformed_body', detail: 'out_trade_no is not one of ours' };
  // Own entries only: a trade_state such as "constructor" is not a word we know.
  let state = Object.hasOwn(TRADE_STATES, transaction.trade_state) ? TRADE_STATES[transaction.trade_state] : undefined;
  if (!state) {
    ctx.onUnknownState?.(transaction.trade_state);
    state = 'PENDING';
  }
  const paidAt = transaction.success_time ? new Date(transaction.success_time) : undefined;
  return {
    ok: true,
    // What the event log keeps: the envelope's ids and the trade's facts, not the payer (openid) or the ciphertext.
    payload: {
      id: envelope.id,
      event_type: envelope.event_type,
      create_time: envelope.create_time,
      trade: {
        out_trade_no: transaction.out_trade_no,
        transaction_id: transaction.transaction_id,
        trade_state: transaction.trade_state,
        amount: transaction.amount,
        ...(transaction.success_time ? { success_time: transaction.success_time } : {}),
      },
    },
    callback: {
      eventId: envelope.id,
      eventType: envelope.event_type,
      channelPaymentId: transaction.transaction_id,
      paymentId,
      merchantId: transaction.mchid,
      state,
      channelStatus: transaction.trade_state,
      amount: transaction.amount.total,
      currency: transaction.amount.currency,
      ...(paidAt && !Number.isNaN(paidAt.getTime()) ? { paidAt: paidAt.toISOString() } : {}),
      ...tradeReason(state, transaction.trade_state_desc),
    },
  };
}
