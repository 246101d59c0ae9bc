// Money that must not stay with the shop: a success after the payment was closed, cancelled or failed (a late
// success), or one the order service refused. What becomes of it is decided here, once, for everyone who finds it:
// the payment workflow, the API (a callback after the workflow ended) and the reconciler (payments/ carries the
// decision out where no workflow runs). Pure and deterministic: workflow code uses it.
import type { LateSuccessPolicy, RefundInput } from './definitions';
import { formatMoney } from './money';

/** Why money goes back: a success after an unpaid final state, a refusal by the order service, or the statement. */
export type MoneyBackReason = RefundInput['reason'];

/** Refund it at the channel (one refund workflow per payment), or leave it NEEDS_REVIEW for a person. */
export type MoneyBackAction = 'refund' | 'review';

export interface MoneyBackCase {
  reason: MoneyBackReason;
  policy: LateSuccessPolicy;
  /** The order service's reason, when it refused the paid result. */
  orderRefusal?: string;
}

export function moneyBackAction({ reason, policy, orderRefusal }: MoneyBackCase): MoneyBackAction {
  // The order expected another amount: whether to refund, or to take it and settle the difference, is a person's
  // call, whatever the policy.
  if (reason === 'order_refused' && orderRefusal === 'amount_mismatch') return 'review';
  return policy;
}

/** Why money goes back, in words for a person (the payment's status reason). */
export function moneyBackReason(reason: MoneyBackReason, orderRefusal?: string, wasStatus?: string): string {
  switch (reason) {
    case 'late_success':
      return `paid after the payment had ended${wasStatus ? ` ${wasStatus}` : ' unpaid'}`;
    case 'order_refused':
      return `the order service refused the paid result (${orderRefusal ?? 'no reason given'})`;
    case 'statement':
      return "the channel's statement shows it paid after the payment had ended unpaid";
    case 'operator':
      return 'an operator resolved the review by refunding';
  }
}

/** The refund workflow's input for a payment (the same whoever starts it). */
export function refundInput(
  payment: Pick<RefundInput, 'paymentId' | 'orderId' | 'channel' | 'amount' | 'currency'>,
  reason: MoneyBackReason,
  querySchedule: number[],
): RefundInput {
  const { paymentId, orderId, channel, amount, currency } = payment;
  return { paymentId, orderId, channel, amount, currency, reason, querySchedule };
}

/** What the Web UI shows at the top of a refund workflow. */
export function refundSummary(input: RefundInput): string {
  return `Refund ${formatMoney(input.amount, input.currency)} of payment ${input.paymentId} (${input.reason})`;
}
