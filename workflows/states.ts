// The payment state machine: the one place transitions are defined. The workflow, the repository's guarded
// updates and the API all ask it. Pure, no imports: workflow code uses it.

export const PAYMENT_STATUSES = [
  'UNPAID',
  'PAYING',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'CLOSED',
  'REFUNDING',
  'REFUNDED',
  'NEEDS_REVIEW',
  'ACCEPTED',
  'REVIEW_CLOSED',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** What settled a payment's final state. */
export const RESOLUTION_PATHS = ['callback', 'query', 'close', 'operator'] as const;
export type ResolvedBy = (typeof RESOLUTION_PATHS)[number];

/**
 * Allowed moves. Every arrow points forward: there is no way back to an earlier state, so a late FAILED can never
 * overwrite SUCCESS. The anomaly path (a success after CLOSED/CANCELLED/FAILED, or one the order service refused) leads
 * to REFUNDING or NEEDS_REVIEW. A review ends in one of three states of its own, each an operator's decision: the money
 * refunded (REFUNDED), the payment accepted as paid and the order told so (ACCEPTED), or the review closed with nothing
 * more to do (REVIEW_CLOSED). They are new states rather than SUCCESS or CLOSED again so that no arrow points back.
 */
const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  UNPAID: ['PAYING', 'FAILED', 'CANCELLED', 'CLOSED'],
  PAYING: ['SUCCESS', 'FAILED', 'CANCELLED', 'CLOSED', 'NEEDS_REVIEW'],
  // Paid, but the order service refused the money (order cancelled, or already paid by another payment): refund.
  SUCCESS: ['REFUNDING', 'NEEDS_REVIEW'],
  FAILED: ['REFUNDING', 'NEEDS_REVIEW'],
  CANCELLED: ['REFUNDING', 'NEEDS_REVIEW'],
  CLOSED: ['REFUNDING', 'NEEDS_REVIEW'],
  REFUNDING: ['REFUNDED', 'NEEDS_REVIEW'],
  // A person decides (workflows/operator.ts); nothing moves back into the automated path.
  NEEDS_REVIEW: ['REFUNDED', 'ACCEPTED', 'REVIEW_CLOSED'],
  REFUNDED: [],
  ACCEPTED: [],
  REVIEW_CLOSED: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The states a payment may be in for a move to `to` to be allowed (for guarded SQL updates). */
export function allowedPredecessors(to: PaymentStatus): PaymentStatus[] {
  return PAYMENT_STATUSES.filter((from) => canTransition(from, to));
}

/**
 * The channel has decided: the buyer's money moved, or it never will for this payment. The order service is told
 * exactly one of these per payment.
 */
export const DECIDED_STATUSES = [
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'CLOSED',
] as const satisfies readonly PaymentStatus[];
export type DecidedStatus = (typeof DECIDED_STATUSES)[number];

/** Decided, and unpaid: a success that arrives after one of these is an anomaly (a late success). */
export const UNPAID_FINAL_STATUSES = ['FAILED', 'CANCELLED', 'CLOSED'] as const satisfies readonly DecidedStatus[];

/** Where money that must go back goes: refunded, or left for a person. */
export const MONEY_BACK_STATUSES = [
  'REFUNDING',
  'REFUNDED',
  'NEEDS_REVIEW',
] as const satisfies readonly PaymentStatus[];

/** How an operator's review ends, besides a refund: accepted as paid, or closed with nothing more to do. */
export const REVIEWED_STATUSES = ['ACCEPTED', 'REVIEW_CLOSED'] as const satisfies readonly PaymentStatus[];

/** No automated step will change these any more on its own (the money-back path aside). */
export const FINAL_STATUSES = [...DECIDED_STATUSES, ...MONEY_BACK_STATUSES, ...REVIEWED_STATUSES] as const;

/** The channel took the buyer's money for these (whatever became of it since). */
export const PAID_STATUSES = [
  'SUCCESS',
  ...MONEY_BACK_STATUSES,
  ...REVIEWED_STATUSES,
] as const satisfies readonly PaymentStatus[];
type PaidStatus = (typeof PAID_STATUSES)[number];

/** Paid, and the shop keeps the money: the order is paid by this payment and takes no other. */
export const KEPT_STATUSES = ['SUCCESS', 'ACCEPTED'] as const satisfies readonly PaidStatus[];

const within =
  <T extends PaymentStatus>(list: readonly T[]) =>
  (status: PaymentStatus): status is T =>
    (list as readonly PaymentStatus[]).includes(status);

export const isFinal = within(FINAL_STATUSES);
export const isDecided = within(DECIDED_STATUSES);
export const isUnpaidFinal = within(UNPAID_FINAL_STATUSES);
export const isPaid = within(PAID_STATUSES);

/**
 * The result the order service is told for a status an operator's review ended in (ACCEPTED: paid; REVIEW_CLOSED:
 * not paid), and for a decided status, itself. Undefined where the order is told nothing (yet).
 */
export function orderResultFor(status: PaymentStatus): DecidedStatus | undefined {
  if (isDecided(status)) return status;
  if (status === 'ACCEPTED') return 'SUCCESS';
  if (status === 'REVIEW_CLOSED') return 'CLOSED';
  return undefined;
}

export function isPaymentStatus(value: unknown): value is PaymentStatus {
  return typeof value === 'string' && (PAYMENT_STATUSES as readonly string[]).includes(value);
}

/**
 * A channel's view of a payment, after an adapter maps the channel's own vocabulary (WeChat Pay NOTPAY/USERPAYING,
 * Alipay WAIT_BUYER_PAY, ...). NOT_FOUND: the channel has no such payment (its creation never went through).
 */
export type ChannelState = 'PENDING' | 'SUCCESS' | 'FAILED' | 'CLOSED' | 'NOT_FOUND';

/** The payment status a settled channel state leads to, or undefined while the channel is still pending. */
export function statusForChannelState(state: ChannelState): PaymentStatus | undefined {
  switch (state) {
    case 'SUCCESS':
      return 'SUCCESS';
    case 'FAILED':
      return 'FAILED';
    case 'CLOSED':
    case 'NOT_FOUND':
      return 'CLOSED';
    case 'PENDING':
      return undefined;
  }
}
