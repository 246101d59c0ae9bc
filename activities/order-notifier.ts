// Tells the order service a payment's final state. Idempotent on the key we send; any failure to get an
// acknowledgement is an exception, so the activity's retry policy keeps trying: the update is never abandoned.
import { z } from 'zod';
import type { DecidedStatus } from '../workflows/states';

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

export function createHttpOrderNotifier(config: { url: string; timeoutMs?: number }): OrderNotifier {
  return {
    async notify(notice) {
      const path = `/orders/${encodeURIComponent(notice.orderId)}/payment-result`;
      let res: Response;
      try {
        res = await fetch(`${config.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': notice.idempotencyKey },
          body: JSON.stringify({
            paymentId: notice.paymentId,
            status: notice.status,
            amount: notice.amount,
            currency: notice.currency,
          }),
          signal: AbortSignal.timeout(config.timeoutMs ?? 10_000),
        });
      } catch (err) {
        throw new OrderServiceUnavailableError(
          `order service unreachable: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      const body: unknown = await res.json().catch(() => undefined);
      if (res.status !== 200) {
        // 404 (order unknown yet), 5xx, anything else: not acknowledged, so retried with backoff.
        throw new OrderServiceUnavailableError(`order service answered HTTP ${res.status} for order ${notice.orderId}`);
      }
      return ackSchema.parse(body);
    },
  };
}
