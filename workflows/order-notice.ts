// What the order service is told about a payment, made in one place for the payment workflow and the operator
// workflow: the idempotency key is the payment's and the status's that decided it, so however often and by whoever
// it is sent, the order service applies one result per payment and decision. An operator's decision after a review
// (ACCEPTED: paid; REVIEW_CLOSED: not paid) is a new decision with a key of its own: the order service may have
// refused the channel's SUCCESS (another amount) and take the operator's once the order is corrected.
import type { PaymentResultNotice } from '../activities/order-notifier';
import { type PaymentInput, paymentWorkflowId } from './definitions';
import { type DecidedStatus, orderResultFor } from './states';

/** A notice as the notifyOrderService activity takes it: the channel is for its metrics and event log. */
export type OrderNotice = PaymentResultNotice & { channel: string };

/**
 * The statuses whose decision the order service is told. REFUNDED: a review an operator settled by refunding, for an
 * order that had heard nothing before: it is told the payment is not paid (CLOSED).
 */
export type NoticeStatus = DecidedStatus | 'ACCEPTED' | 'REVIEW_CLOSED' | 'REFUNDED';

export function orderNoticeFor(
  payment: Pick<PaymentInput, 'orderId' | 'paymentId' | 'amount' | 'currency' | 'channel'>,
  status: NoticeStatus,
): OrderNotice {
  const { orderId, paymentId, amount, currency, channel } = payment;
  return {
    orderId,
    paymentId,
    status: status === 'REFUNDED' ? 'CLOSED' : orderResultFor(status)!,
    amount,
    currency,
    channel,
    idempotencyKey: `${paymentWorkflowId(paymentId)}:notify-order:${status}`,
  };
}
