// Shared by the API, the worker, the workflows and the tests: names of things on the Temporal side.
// Imports nothing from Node (workflow code imports it).
import type { SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BuyerHandoff } from '../channels/types';
import type { ChannelState, PaymentStatus, ResolvedBy } from './states';

export const DEFAULT_TASK_QUEUE = 'payments';

/** Custom search attributes, registered on the dev server by `npm start` and by the test setup. */
// (What defineSearchAttributeKey from @temporalio/common returns, written out: workflow code imports values only from
// @temporalio/workflow.)
const key = <T extends SearchAttributeType>(name: string, type: T): SearchAttributeKey<T> => ({ name, type });
export const searchAttributes = {
  paymentStatus: key('PaymentStatus', 'KEYWORD'),
  orderId: key('OrderId', 'KEYWORD'),
  paymentChannel: key('PaymentChannel', 'KEYWORD'),
  resolvedBy: key('ResolvedBy', 'KEYWORD'),
  nextCheckAt: key('NextCheckAt', 'DATETIME'),
} as const;

export const allSearchAttributeKeys = Object.values(searchAttributes);

const PAYMENT_PREFIX = 'payment-';
const REFUND_PREFIX = 'refund-';
const OPERATOR_PREFIX = 'operator-';

/** Workflow ids are business keys: one workflow per payment, found again from the payment id alone. */
export function paymentWorkflowId(paymentId: string): string {
  return `${PAYMENT_PREFIX}${paymentId}`;
}

export function paymentIdFromWorkflowId(workflowId: string): string | undefined {
  if (workflowId.startsWith(PAYMENT_PREFIX)) return workflowId.slice(PAYMENT_PREFIX.length);
  if (workflowId.startsWith(REFUND_PREFIX)) return workflowId.slice(REFUND_PREFIX.length);
  if (workflowId.startsWith(OPERATOR_PREFIX)) return workflowId.slice(OPERATOR_PREFIX.length);
  return undefined;
}

/** Operator actions on a payment whose own workflow has ended run in this one (see workflows/operator.ts). */
export function operatorWorkflowId(paymentId: string): string {
  return `${OPERATOR_PREFIX}${paymentId}`;
}

/** At most one refund per payment: the refund workflow's id is the payment's, so starting it twice is harmless. */
export function refundWorkflowId(paymentId: string): string {
  return `${REFUND_PREFIX}${paymentId}`;
}

// ---- The payment workflow's interface -------------------------------------------------------------------------

/** Durations in ms, from configuration: the workflow reads no clock settings of its own. */
export interface PaymentPolicyInput {
  /** Waits between channel queries; the last repeats until expiry. */
  querySchedule: number[];
  /** How long after an unpaid final state the workflow still watches for late callbacks. */
  lateWindowMs: number;
  notifyInitialBackoffMs: number;
  notifyMaxBackoffMs: number;
  /**
   * A success after an unpaid final state, or one the order service refused: refund it at the channel, or leave it
   * NEEDS_REVIEW for a person (see money-back.ts).
   */
  lateSuccessPolicy: LateSuccessPolicy;
}

export type LateSuccessPolicy = 'refund' | 'review';

export interface PaymentInput {
  paymentId: string;
  orderId: string;
  /** Integer minor units of `currency`. */
  amount: number;
  /** ISO 4217, upper case. */
  currency: string;
  channel: string;
  /** What is bought, in the shop's words: the channel shows it to the buyer. */
  description?: string;
  /** ISO timestamp: not paid by then, the payment is closed at the channel. */
  expiresAt: string;
  policy: PaymentPolicyInput;
}

/** A callback from the channel, already signature-checked and parsed by the API. Trusted only if it matches. */
export interface ChannelCallback {
  /** The channel's id for this notification; retries of the same notification share it. */
  eventId: string;
  channelPaymentId: string;
  state: ChannelState;
  amount: number;
  currency: string;
  paidAt?: string;
  /** Why it failed or closed, in the channel's words for a buyer (see ChannelPaymentView.reason). */
  reason?: string;
}

export interface CancelRequest {
  reason?: string;
}

export interface RequeryRequest {
  /** Who asks, when it is not an operator: the reconciler or the statement run. */
  requestedBy?: string;
  /** An operator's ask (who and why): the payment workflow records it in the payment's audit log. */
  operator?: OperatorRequest;
}

export const ANOMALY_KINDS = [
  'callback_mismatch',
  'query_mismatch',
  'late_success',
  'order_refused',
  'refund_failed',
  // The channel answered NOT_FOUND for a payment it had created: it lost it (or answers for another merchant).
  'channel_not_found',
] as const;
export type AnomalyKind = (typeof ANOMALY_KINDS)[number];

export interface Anomaly {
  kind: AnomalyKind;
  /** Workflow time, ISO. */
  at: string;
  detail: string;
}

/** Who asks, and why: every operator action carries both, into the audit log. */
export interface OperatorRequest {
  actor: string;
  reason: string;
}

/** How an operator settles a payment waiting for review (NEEDS_REVIEW). */
export const RESOLVE_ACTIONS = ['refund', 'accept', 'close'] as const;
export type ResolveAction = (typeof RESOLVE_ACTIONS)[number];

export interface ResolveRequest extends OperatorRequest {
  action: ResolveAction;
}

/** An operator action as its audit event names it (`operator:<name>`). */
export type OperatorActionName = 'requery' | 'renotify' | `resolve:${ResolveAction}`;

/** An operator action as the workflow that did it records it: done, refused (and why) or failed. */
export interface OperatorActionRecord extends OperatorRequest {
  paymentId: string;
  channel: string;
  action: OperatorActionName;
  outcome: 'done' | 'refused' | 'failed';
  message: string;
  /** Made by the workflow before the action: the record is one row however often its write is retried. */
  eventKey: string;
}

/** What a running payment workflow does on an operator's requery signal (the API's answer says the same). */
export const REQUERY_NOW_MESSAGE = 'the payment workflow will query the channel now';

/** What an operator action did, in words (or an ApplicationFailure of type OperatorRefusal saying why not). */
export interface OperatorActionResult {
  paymentId: string;
  status: PaymentStatus;
  message: string;
}

/** An operator action that does not apply to the payment as it is: answered 409 with this failure's message. */
export const OPERATOR_REFUSAL = 'OperatorRefusal';
/** An operator action that could not be done now (the order service or channel did not answer): try again. */
export const OPERATOR_UNAVAILABLE = 'OperatorUnavailable';

export interface OperatorWorkflowInput {
  paymentId: string;
  channel: string;
  policy: PaymentPolicyInput;
  /** The workflow ends after this long without an action (the next action starts it again). */
  idleMs: number;
}

export interface PaymentStatusView {
  paymentId: string;
  status: PaymentStatus;
  channelPaymentId?: string;
  payUrl?: string;
  handoff?: BuyerHandoff;
  expiresAt: string;
  /** Scheduled channel queries done so far (operator requeries and expiry's final query not counted). */
  checksDone: number;
  queryFailures: number;
  /** The next scheduled query (or the expiry), while waiting. */
  nextCheckAt?: string;
  resolvedBy?: ResolvedBy;
  /** What the workflow is doing now, in words. */
  waitingFor: string;
  orderNotified: boolean;
  duplicateCallbacks: number;
  ignoredCallbacks: number;
  anomalies: Anomaly[];
}

export interface PayUrlResult {
  paymentId: string;
  status: PaymentStatus;
  /** Absent when the payment reached a final state before the channel gave one (creation refused). */
  payUrl?: string;
  handoff?: BuyerHandoff;
}

export interface PaymentResult {
  paymentId: string;
  status: PaymentStatus;
  resolvedBy?: ResolvedBy;
  anomalies: Anomaly[];
}

export const channelCallbackSignal = defineSignal<[ChannelCallback]>('channelCallback');
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');
export const requerySignal = defineSignal<[RequeryRequest]>('requery');
export const statusQuery = defineQuery<PaymentStatusView>('status');
/** Returns once the channel has created the payment: the API's update-with-start gets the pay URL in one call. */
export const payUrlUpdate = defineUpdate<PayUrlResult>('payUrl');
/**
 * Tell the order service again. On the payment workflow: while it is still retrying, the next attempt starts now (the
 * backoff starts over); once acknowledged, the notice is sent again (same idempotency key). On the operator workflow:
 * the same for a payment whose workflow has ended.
 */
export const renotifyUpdate = defineUpdate<OperatorActionResult, [OperatorRequest]>('renotify');
/** The operator workflow's: settle a NEEDS_REVIEW payment by refund, accept or close. */
export const resolveUpdate = defineUpdate<OperatorActionResult, [ResolveRequest]>('resolve');
/** The operator workflow's: ask the channel now about a payment whose workflow has ended, and act on a late success. */
export const operatorRequeryUpdate = defineUpdate<OperatorActionResult, [OperatorRequest]>('requery');

/** Returns a paid payment's money: refund at the channel, then follow the refund to its end with the query schedule. */
export interface RefundInput {
  paymentId: string;
  orderId: string;
  channel: string;
  amount: number;
  currency: string;
  /**
   * Why: late_success (paid after an unpaid final state), order_refused (the order would not take it), statement (the
   * channel's statement shows it paid after an unpaid final state), operator (a person resolved a review by refunding:
   * the payment stays NEEDS_REVIEW until the refund succeeds, then REFUNDED).
   */
  reason: 'late_success' | 'order_refused' | 'statement' | 'operator';
  /** In words, for the payment's status reason (the operator's reason, for an operator's refund). */
  note?: string;
  /** Waits between refund status queries; the last repeats. */
  querySchedule: number[];
}

export interface RefundResult {
  paymentId: string;
  status: PaymentStatus;
  refundId?: string;
}
