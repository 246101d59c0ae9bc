// The steps the phases of a payment share: record a state change, note an anomaly, ask the channel, act on its
// answer, and send money back. Each is one or two activity calls on the state; the options live in
// ../activity-options.ts.
import { CancellationScope, condition, executeChild, isCancellation, log, TemporalFailure } from '@temporalio/workflow';
import type { ChannelPaymentView } from '../../channels/types';
import { activityGaveUp, localQuery, localStore } from '../activity-options';
import { type Anomaly, type AnomalyKind, refundWorkflowId } from '../definitions';
import { type MoneyBackReason, moneyBackAction, moneyBackReason, refundInput, refundSummary } from '../money-back';
import { refundWorkflow } from '../refund';
import { type PaymentStatus, type ResolvedBy, statusForChannelState } from '../states';
import { iso, workflowNow } from '../time';
import type { PaymentState } from './state';

/** When the channel said the buyer paid, and why the payment is in its new status, in words for a person. */
export interface SettleDetails {
  paidAt?: string | undefined;
  reason?: string | undefined;
}

/** Moves to `to` through the guarded update; the row's answer is the truth (a refused move keeps its state). */
export async function settle(
  p: PaymentState,
  to: PaymentStatus,
  by: ResolvedBy | undefined,
  { paidAt, reason }: SettleDetails = {},
) {
  const result = await localStore.recordFinalState.executeWithOptions(
    { summary: `record ${to}${by ? ` (by ${by})` : ''}` },
    [
      {
        paymentId: p.paymentId,
        status: to,
        ...(by ? { resolvedBy: by } : {}),
        ...(paidAt ? { paidAt } : {}),
        ...(reason ? { reason } : {}),
        decidedAt: iso(workflowNow()),
      },
    ],
  );
  p.status = result.status;
  p.resolvedBy = result.resolvedBy ?? p.resolvedBy;
  p.nextCheckAtMs = undefined;
  p.show();
}

export async function noteAnomaly(p: PaymentState, kind: AnomalyKind, detail: string): Promise<void> {
  const anomaly: Anomaly = { kind, at: iso(workflowNow()), detail };
  p.anomalies.push(anomaly);
  await localStore.recordAnomaly.executeWithOptions({ summary: `record anomaly: ${kind}` }, [
    { paymentId: p.paymentId, channel: p.input.channel, anomaly },
  ]);
}

/**
 * A call its retry policy repeats until it is answered (backing off up to a minute for the channel, longer for the
 * order service). When an operator asks for it now (`asked()` turns true) while it waits out a backoff, the waiting
 * attempt is cancelled and the call starts again at once, with the policy's first interval: what the operator was
 * told ("now"). `take()` consumes the ask.
 */
export async function againWhenAsked<T>(
  p: PaymentState,
  what: string,
  call: () => Promise<T>,
  asked: () => boolean,
  take: () => void,
): Promise<T> {
  take(); // asked before the call: this call is the answer
  let answered = false; // ends the watch below once the call is done, so no condition outlives it
  try {
    for (;;) {
      const scope = new CancellationScope();
      const attempt = scope.run(call);
      const operator = condition(() => answered || asked()).then(() => ASKED);
      const first = await Promise.race([attempt, operator]);
      if (first !== ASKED) return first as T;
      take();
      scope.cancel();
      try {
        return await attempt; // it may have been answered in the same instant
      } catch (err) {
        if (!isCancellation(err)) throw err;
        log.info(`an operator asked again: ${what} starts again now`, { paymentId: p.paymentId });
      }
    }
  } finally {
    answered = true;
  }
}
const ASKED = Symbol('asked');

/** A channel call retried until it answers; an operator's requery meanwhile makes the next try now. */
export function untilAnswered<T>(p: PaymentState, what: string, call: () => Promise<T>): Promise<T> {
  return againWhenAsked(
    p,
    what,
    call,
    () => p.requeryAsked,
    () => p.takeRequery(),
  );
}

export type QueryReason = 'scheduled' | 'operator' | 'verify' | 'late';

/** A query that may fail (scheduled, operator): a failure is counted and logged; the caller goes on. */
export async function tryQuery(p: PaymentState, reason: QueryReason): Promise<ChannelPaymentView | undefined> {
  try {
    return await localQuery.queryChannelPayment.executeWithOptions({ summary: `query the channel (${reason})` }, [
      { ...p.channelRef(), reason },
    ]);
  } catch (err) {
    if (!activityGaveUp(err)) throw err;
    p.queryFailures++;
    log.warn('channel query failed; the next check will ask again', {
      paymentId: p.paymentId,
      reason,
      error: (err.cause ?? err).message,
    });
    return undefined;
  }
}

/**
 * Takes what a channel answer teaches whatever the phase: the channel's payment id when creation's answer was lost,
 * and NOT_FOUND for a payment the channel had created, which is an anomaly (noted once): the channel lost it, or
 * answers for another merchant. Left unnoticed, it would look like a payment nobody paid.
 */
export async function learnFrom(p: PaymentState, view: ChannelPaymentView | undefined): Promise<void> {
  if (!view) return;
  if (view.channelPaymentId && !p.channelPaymentId) p.channelPaymentId = view.channelPaymentId;
  if (view.state === 'NOT_FOUND' && p.createdAtChannel && !p.anomalies.some((a) => a.kind === 'channel_not_found')) {
    await noteAnomaly(
      p,
      'channel_not_found',
      `the channel answered NOT_FOUND for payment ${p.channelPaymentId ?? p.paymentId}, which it had created`,
    );
  }
}

/**
 * Why a settled channel state is what it is, in words a buyer reads too: the channel's own reason when it gave one
 * ("insufficient funds"), else a plain sentence.
 */
export function channelReason(view: { state: ChannelPaymentView['state']; reason?: string | undefined }) {
  if (view.state === 'FAILED') return view.reason ?? 'the payment was declined';
  if (view.state === 'CLOSED') return view.reason ?? 'the channel closed the payment';
  return undefined;
}

/** Acts on a channel answer while the payment is open. NOT_FOUND before expiry means "not created yet": pending. */
export async function applyChannelView(p: PaymentState, view: ChannelPaymentView, by: ResolvedBy): Promise<void> {
  await learnFrom(p, view);
  if (view.state === 'NOT_FOUND' || view.state === 'PENDING') return;
  if (view.state === 'SUCCESS' && !p.agrees(view)) {
    const detail = `channel reports ${view.amount} ${view.currency}, payment is ${p.input.amount} ${p.input.currency}`;
    await noteAnomaly(p, 'query_mismatch', detail);
    await settle(p, 'NEEDS_REVIEW', by, { reason: `the channel's amount disagrees: ${detail}` });
    return;
  }
  await settle(p, statusForChannelState(view.state)!, by, { paidAt: view.paidAt, reason: channelReason(view) });
}

/**
 * Money that must go back (a late success, or one the order refused): refunded through the one refund workflow per
 * payment, or left NEEDS_REVIEW for a person, as money-back.ts decides.
 */
export async function sendMoneyBack(
  p: PaymentState,
  reason: MoneyBackReason,
  by: ResolvedBy | undefined,
  details: { paidAt?: string; orderRefusal?: string } = {},
): Promise<void> {
  const { policy } = p.input;
  const action = moneyBackAction({ reason, policy: policy.lateSuccessPolicy, orderRefusal: details.orderRefusal });
  const why = moneyBackReason(reason, details.orderRefusal, p.status);
  if (action === 'review') {
    await settle(p, 'NEEDS_REVIEW', by, { paidAt: details.paidAt, reason: `${why}; a person decides` });
    return;
  }
  p.status = 'REFUNDING';
  p.nextCheckAtMs = undefined;
  p.doing('the refund to complete');
  try {
    const input = { ...refundInput(p.input, reason, policy.querySchedule), note: why };
    const result = await executeChild(refundWorkflow, {
      workflowId: refundWorkflowId(p.paymentId),
      staticSummary: refundSummary(input),
      args: [input],
    });
    p.status = result.status;
  } catch (err) {
    // Someone (the API, the reconciler) started this payment's refund already; it carries on without us.
    if (!alreadyStarted(err)) throw err;
    log.info('refund already under way elsewhere', { paymentId: p.paymentId });
  }
  p.show();
}

/**
 * The SDK's WorkflowExecutionAlreadyStartedError (from @temporalio/common, which workflow code does not import for
 * values), recognised by the name the SDK gives it.
 */
function alreadyStarted(err: unknown): boolean {
  return err instanceof TemporalFailure && err.name === 'WorkflowExecutionAlreadyStartedError';
}
