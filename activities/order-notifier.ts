// Tells the order service a payment's final state. Idempotent on the key we send; any failure to get an
// acknowledgement is an exception, so the activity's retry policy keeps trying: the update is never abandoned.
// Every attempt is signed afresh (Payment-Signature, activities/order-signature.ts): the contract is in
// docs/order-service.openapi.yaml and the README's "The order service" section.
import { z } from 'zod';
import type { DecidedStatus } from '../workflows/states';
import { SIGNATURE_HEADER, type SigningKey, signPayload } from './order-signature';

export class OrderServiceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrderServiceUnavailableError';
  }
}

export interface PaymentResultNotice {
  orderId: string;
  paymentId: string;
  status: DecidedStatus;
  amount: number;
  currency: string;
  idempotencyKey: string;
}

/** The order service received the result. `accepted: false` is its business answer (e.g. order cancelled). */
export interface OrderAck {
  accepted: boolean;
  orderStatus: string;
  reason?: string;
}

const ackSchema = z.object({ accepted: z.boolean(), orderStatus: z.string(), reason: z.string().optional() });

export interface OrderNotifier {
  notify(notice: PaymentResultNotice): Promise<OrderAck>;
}

/** The JSON body we send: the order and the idempotency key are inside it, so the signature covers them. */
export function paymentResultBody(notice: PaymentResultNotice): string {
  return JSON.stringify({
    orderId: notice.orderId,
    paymentId: notice.paymentId,
    status: notice.status,
    amount: notice.amount,
    currency: notice.currency,
    idempotencyKey: notice.idempotencyKey,
  });
}

export function createHttpOrderNotifier(config: {
  url: string;
  /** Every key signs (one v1 each): one key normally, two during a rotation. */
  signingKeys: readonly SigningKey[];
  timeoutMs?: number;
  /** Seconds since the epoch; tests pin it. */
  nowS?: () => number;
}): OrderNotifier {
  const nowS = config.nowS ?? (() => Date.now() / 1000);
  return {
    async notify(notice) {
      const path = `/orders/${encodeURIComponent(notice.orderId)}/payment-result`;
      const body = paymentResultBody(notice);
      let res: Response;
      try {
        res = await fetch(`${config.url}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': notice.idempotencyKey,
            [SIGNATURE_HEADER]: signPayload(config.signingKeys, body, nowS()),
          },
          body,
          signal: AbortSignal.timeout(config.timeoutMs ?? 10_000),
        });
      } catch (err) {
        throw new OrderServiceUnavailableError(
          `order service unreachable: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      const answer: unknown = await res.json().catch(() => undefined);
      if (res.status === 401) {
        // Our signature was refused: the two sides' ORDER_NOTIFY_SIGNING_KEYS disagree, or a clock is off by more
        // than the tolerance. Retried like any other failure, and said plainly for the operator.
        throw new OrderServiceUnavailableError(
          `order service refused our signature (HTTP 401) for order ${notice.orderId}: check ORDER_NOTIFY_SIGNING_KEYS on both sides and the clocks`,
        );
      }
      if (res.status < 200 || res.status > 299) {
        // 404 (order unknown yet), 5xx, anything else: not acknowledged, so retried with backoff.
        throw new OrderServiceUnavailableError(`order service answered HTTP ${res.status} for order ${notice.orderId}`);
      }
      // A 2xx acknowledges only with its answer ({accepted, orderStatus, reason?}); without one, we ask again.
      const ack = ackSchema.safeParse(answer);
      if (!ack.success) {
        throw new OrderServiceUnavailableError(
          `order service answered HTTP ${res.status} for order ${notice.orderId} without {accepted, orderStatus}`,
        );
      }
      return ack.data;
    },
  };
}
