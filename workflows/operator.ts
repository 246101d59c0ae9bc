// What an operator does to a payment, as Temporal updates: resolve a review (refund, accept, close), tell the order
// service again, ask the channel now. The payment workflow answers renotify itself while it runs; once it has ended
// (a payment waiting for review always has), the API starts this workflow with update-with-start
// (`operator-<paymentId>`), which does the action, answers the update with what it did, and ends after a while
// without actions. Every state change goes through the guarded store and the state machine, never a direct write;
// an action that does not apply is refused with an ApplicationFailure of type OperatorRefusal, saying why. Each
// action, done, refused or failed, is recorded in the payment's audit log by the workflow that did it (`audited`):
// the record is part of the action's durable execution, so an API that dies after asking loses nothing.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  ParentClosePolicy,
  setHandler,
  startChild,
  TemporalFailure,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { OperatorView } from '../activities';
import type { OrderAck } from '../activities/order-notifier';
import { activityGaveUp, orderOnce, queryOnce, store } from './activity-options';
import {
  OPERATOR_REFUSAL,
  OPERATOR_UNAVAILABLE,
  type OperatorActionName,
  type OperatorActionResult,
  type OperatorRequest,
  operatorRequeryUpdate,
  type OperatorWorkflowInput,
  type RefundInput,
  refundWorkflowId,
  renotifyUpdate,
  RESOLVE_ACTIONS,
  type ResolveRequest,
  resolveUpdate,
} from './definitions';
import { moneyBackAction, moneyBackReason, refundInput, refundSummary } from './money-back';
import { formatMoney } from './money';
import { type OrderNotice, orderNoticeFor } from './order-notice';
import { refundWorkflow } from './refund';
import { isUnpaidFinal, type PaymentStatus } from './states';
import { iso, workflowNow } from './time';

/** This workflow's own state: its input, and the operator's refund it follows to its end. */
interface Operations {
  input: OperatorWorkflowInput;
  /**
   * An operator's refund is running (the payment stays NEEDS_REVIEW meanwhile): every other resolution is refused
   * until it ends, so a review cannot end both refunded and accepted. All operator actions on a payment come to this
   * one workflow, which does not end while the refund runs.
   */
  refunding: boolean;
}

export async function paymentOperatorWorkflow(input: OperatorWorkflowInput): Promise<void> {
  const ops: Operations = { input, refunding: false };
  // One action at a time: the second waits for the first (two operators resolving the same review at once).
  let busy = false;
  let actions = 0;
  const oneAtATime =
    <A extends OperatorRequest>(
      name: (request: A) => OperatorActionName,
      action: (ops: Operations, request: A) => Promise<OperatorActionResult>,
    ) =>
    async (request: A) => {
      await condition(() => !busy);
      busy = true;
      try {
        return await audited(input, name(request), request, () => action(ops, request));
      } finally {
        busy = false;
        actions++;
      }
    };
  setHandler(
    resolveUpdate,
    oneAtATime((r) => `resolve:${r.action}`, resolve),
    { validator: validateResolve },
  );
  setHandler(
    renotifyUpdate,
    oneAtATime(() => 'renotify', renotify),
    { validator: validateRequest },
  );
  setHandler(
    operatorRequeryUpdate,
    oneAtATime(() => 'requery', requery),
    { validator: validateRequest },
  );

  // Ends after idleMs without an action and no refund of its own running; the next action starts it again.
  for (;;) {
    const seen = actions;
    const active = await condition(() => busy || actions !== seen, input.idleMs);
    if (!active && !ops.refunding) break;
    if (!active) await condition(() => busy || actions !== seen || !ops.refunding);
    await condition(() => !busy);
  }
  await condition(allHandlersFinished);
}

// ---- the audit log ---------------------------------------------------------------------------------------------

/**
 * Runs an operator action and records it in the payment's audit log with who, why and what came of it: done,
 * refused (the OperatorRefusal's reason) or failed. The event's key is made before the action (deterministic under
 * replay), so a retried write records it once.
 */
export async function audited(
  payment: { paymentId: string; channel: string },
  action: OperatorActionName,
  request: OperatorRequest,
  run: () => Promise<OperatorActionResult>,
): Promise<OperatorActionResult> {
  const eventKey = `operator:${workflowInfo().runId}:${uuid4()}`;
  const record = (outcome: 'done' | 'refused' | 'failed', message: string) =>
    store.recordOperatorAction({
      paymentId: payment.paymentId,
      channel: payment.channel,
      action,
      actor: request.actor,
      reason: request.reason,
      outcome,
      message,
      eventKey,
    });
  let done: OperatorActionResult;
  try {
    done = await run();
  } catch (err) {
    const refused = err instanceof ApplicationFailure && err.type === OPERATOR_REFUSAL;
    await record(refused ? 'refused' : 'failed', err instanceof Error ? err.message : String(err));
    throw err;
  }
  await record('done', done.message);
  return done;
}

// ---- validation (before the update is accepted: a refused one leaves no trace in the history) -----------------

export function validateRequest(request: OperatorRequest): void {
  if (!request?.actor?.trim()) throw refusal('an operator action needs the operator who asks (actor)');
  if (!request.reason?.trim()) throw refusal('an operator action needs a reason');
}

function validateResolve(request: ResolveRequest): void {
  validateRequest(request);
  if (!(RESOLVE_ACTIONS as readonly string[]).includes(request.action))
    throw refusal(`action must be one of ${RESOLVE_ACTIONS.join(', ')}`);
}

// ---- the actions ------------------------------------------------------------------------------------------------

async function resolve(ops: Operations, request: ResolveRequest): Promise<OperatorActionResult> {
  const now = await store.operatorView(ops.input.paymentId);
  if (now.status !== 'NEEDS_REVIEW')
    throw refusal(`the payment is ${now.status}: only a payment waiting for review (NEEDS_REVIEW) can be resolved`);
  if (ops.refunding)
    throw refusal(
      `a refund of this payment is running (${refundWorkflowId(now.payment.paymentId)}): it ends REFUNDED, or back in review if the channel refuses it`,
    );
  const by = `${request.actor}: ${request.reason}`;
  switch (request.action) {
    case 'refund': {
      const paid = await receivedByChannel(now);
      // What the channel took goes back (a review may be about the channel's amount disagreeing with ours).
      await startOperatorRefund(ops, now, paid.amount, `refund asked by ${by}`);
      return result(
        now,
        'NEEDS_REVIEW',
        `refund of ${formatMoney(paid.amount, paid.currency)} started (${refundWorkflowId(now.payment.paymentId)}): the payment becomes REFUNDED once the channel confirms it`,
      );
    }
    case 'accept': {
      const paid = await receivedByChannel(now);
      if (paid.amount !== now.payment.amount)
        throw refusal(
          `the channel took ${formatMoney(paid.amount, paid.currency)}, the payment is for ${formatMoney(now.payment.amount, now.payment.currency)}: accepting would tell the order it was paid in full; refund it instead`,
        );
      const ack = await tellOrderNow(orderNoticeFor(now.payment, 'ACCEPTED'));
      if (!ack.accepted)
        throw refusal(
          `the order service refused the paid result (${ack.reason ?? 'no reason given'}), so it is not accepted; refund it instead`,
        );
      const status = await record(now, 'ACCEPTED', `accepted as paid by ${by}`);
      return result(now, status, 'accepted: the order service acknowledged the payment as paid');
    }
    case 'close': {
      // The order that never heard a decision (the amount disagreed before it could) hears "not paid"; one that did
      // keeps what it heard.
      let told = '';
      if (!now.orderNotified) {
        const ack = await tellOrderNow(orderNoticeFor(now.payment, 'REVIEW_CLOSED'));
        told = `; the order service was told CLOSED (${ack.accepted ? 'acknowledged' : `refused: ${ack.reason ?? 'no reason given'}`})`;
      }
      const status = await record(now, 'REVIEW_CLOSED', `review closed by ${by}`);
      return result(now, status, `review closed with nothing more to do${told}`);
    }
  }
}

async function renotify(ops: Operations, _request: OperatorRequest): Promise<OperatorActionResult> {
  const now = await store.operatorView(ops.input.paymentId);
  if (!now.noticeStatus)
    throw refusal(`the payment is ${now.status} and was never decided: the order service has nothing to be told yet`);
  const notice = orderNoticeFor(now.payment, now.noticeStatus);
  const ack = await tellOrderNow(notice);
  return result(now, now.status, ackMessage(notice.status, ack));
}

async function requery(ops: Operations, _request: OperatorRequest): Promise<OperatorActionResult> {
  const { input } = ops;
  const now = await store.operatorView(input.paymentId);
  const view = await askChannel(now);
  const says = `the channel says ${view.state}${view.channelStatus ? ` (${view.channelStatus})` : ''}`;
  if (view.state === 'NOT_FOUND' && now.channelPaymentId) {
    await anomaly(
      now,
      'channel_not_found',
      `the channel answered NOT_FOUND for ${now.channelPaymentId}, which it created`,
    );
    return result(now, now.status, `${says} for a payment it had created: recorded as an anomaly`);
  }
  if (view.state === 'SUCCESS' && isUnpaidFinal(now.status)) {
    // A late success the payment workflow's late window did not see (it has ended): the money goes back.
    await anomaly(
      now,
      'late_success',
      `the channel reported SUCCESS to an operator's query after the payment was ${now.status}`,
    );
    const action = moneyBackAction({ reason: 'late_success', policy: input.policy.lateSuccessPolicy });
    const why = moneyBackReason('late_success', undefined, now.status);
    if (action === 'refund') {
      await startLateRefund(input, now, why);
      return result(now, 'REFUNDING', `${says} after the payment was ${now.status}: a late success, being refunded`);
    }
    const status = await record(now, 'NEEDS_REVIEW', `${why}; a person decides`);
    return result(now, status, `${says} after the payment was ${now.status}: a late success, left for review`);
  }
  return result(now, now.status, `${says}; the payment stays ${now.status}`);
}

// ---- steps ----------------------------------------------------------------------------------------------------

async function askChannel(now: OperatorView) {
  try {
    return await queryOnce.queryChannelPayment({
      paymentId: now.payment.paymentId,
      channel: now.payment.channel,
      ...(now.channelPaymentId ? { channelPaymentId: now.channelPaymentId } : {}),
      reason: 'operator',
    });
  } catch (err) {
    if (!activityGaveUp(err)) throw err;
    throw unavailable(`the channel did not answer (${(err.cause ?? err).message}); try again`);
  }
}

export async function tellOrderNow(notice: OrderNotice): Promise<OrderAck> {
  try {
    return await orderOnce.notifyOrderService(notice);
  } catch (err) {
    if (!activityGaveUp(err)) throw err;
    throw unavailable(`the order service did not answer (${(err.cause ?? err).message}); try again`);
  }
}

/** The channel's word that it holds the buyer's money, in our currency; else the resolution is refused. */
async function receivedByChannel(now: OperatorView): Promise<{ amount: number; currency: string }> {
  const view = await askChannel(now);
  if (view.state !== 'SUCCESS')
    throw refusal(
      `the channel never received this payment (it answers ${view.state}${view.channelStatus ? ` / ${view.channelStatus}` : ''}): there is nothing to refund or accept; close the review instead`,
    );
  const amount = view.amount ?? now.payment.amount;
  const currency = view.currency ?? now.payment.currency;
  if (currency !== now.payment.currency)
    throw refusal(
      `the channel took ${formatMoney(amount, currency)}, in another currency than the payment's: settle it at the channel by hand, then close the review`,
    );
  return { amount, currency };
}

/** A late success found by an operator's query: refunded like any (REFUNDING first); it outlives this workflow. */
async function startLateRefund(input: OperatorWorkflowInput, now: OperatorView, note: string) {
  const refund = { ...refundInput(now.payment, 'late_success', input.policy.querySchedule), note };
  await startRefundChild(refund, ParentClosePolicy.ABANDON);
}

/**
 * An operator's refund: the payment stays NEEDS_REVIEW until it ends, so this workflow follows it to its end
 * (refusing other resolutions meanwhile), then tells an order that never heard a result that it is not paid.
 */
async function startOperatorRefund(ops: Operations, now: OperatorView, amount: number, note: string) {
  const refund = { ...refundInput(now.payment, 'operator', ops.input.policy.querySchedule), amount, note };
  const child = await startRefundChild(refund, ParentClosePolicy.TERMINATE);
  ops.refunding = true;
  void (async () => {
    try {
      const ended = await child.result();
      if (ended.status === 'REFUNDED' && !now.orderNotified)
        await tellOrderNow(orderNoticeFor(now.payment, 'REFUNDED')).catch(() => undefined);
    } catch {
      // The refund workflow failed (not a refused refund: that ends it in review); the payment is still in review.
    } finally {
      ops.refunding = false;
    }
  })();
}

async function startRefundChild(refund: RefundInput, parentClosePolicy: ParentClosePolicy) {
  try {
    return await startChild(refundWorkflow, {
      workflowId: refundWorkflowId(refund.paymentId),
      staticSummary: refundSummary(refund),
      parentClosePolicy,
      args: [refund],
    });
  } catch (err) {
    if (err instanceof TemporalFailure && err.name === 'WorkflowExecutionAlreadyStartedError')
      throw refusal('a refund of this payment is already running');
    throw err;
  }
}

async function record(now: OperatorView, to: PaymentStatus, reason: string): Promise<PaymentStatus> {
  const recorded = await store.recordFinalState({
    paymentId: now.payment.paymentId,
    status: to,
    resolvedBy: 'operator',
    reason,
    decidedAt: iso(workflowNow()),
  });
  if (recorded.status !== to) throw refusal(`the payment moved to ${recorded.status} meanwhile; nothing was changed`);
  return recorded.status;
}

async function anomaly(now: OperatorView, kind: 'late_success' | 'channel_not_found', detail: string) {
  await store.recordAnomaly({
    paymentId: now.payment.paymentId,
    channel: now.payment.channel,
    anomaly: { kind, at: iso(workflowNow()), detail },
  });
}

export function ackMessage(status: string, ack: OrderAck): string {
  return `the order service was told ${status} again: ${ack.accepted ? 'acknowledged' : `refused (${ack.reason ?? 'no reason given'})`}`;
}

function result(now: OperatorView, status: PaymentStatus, message: string): OperatorActionResult {
  return { paymentId: now.payment.paymentId, status, message };
}

export function refusal(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OPERATOR_REFUSAL, message, nonRetryable: true });
}

function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OPERATOR_UNAVAILABLE, message, nonRetryable: true });
}
