// What an operator does to a payment, as Temporal updates: resolve a review (refund, accept, close), tell the order
// service again, ask the channel now. The payment workflow answers renotify itself while it runs; once it has ended
// (a payment waiting for review always has), the API starts this workflow with update-with-start
// (`operator-<paymentId>`), which does the action, answers the update with what it did, and ends after a while
// without actions. Every state change goes through the guarded store and the state machine, never a direct write;
// an action that does not apply is refused with an ApplicationFailure of type OperatorRefusal, saying why.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  ParentClosePolicy,
  setHandler,
  startChild,
  TemporalFailure,
} from '@temporalio/workflow';
import type { OperatorView } from '../activities';
import type { OrderAck } from '../activities/order-notifier';
import { activityGaveUp, orderOnce, queryOnce, store } from './activity-options';
import {
  OPERATOR_REFUSAL,
  OPERATOR_UNAVAILABLE,
  type OperatorActionResult,
  type OperatorRequest,
  operatorRequeryUpdate,
  type OperatorWorkflowInput,
  refundWorkflowId,
  renotifyUpdate,
  RESOLVE_ACTIONS,
  type ResolveRequest,
  resolveUpdate,
} from './definitions';
import { type MoneyBackReason, moneyBackAction, moneyBackReason, refundInput, refundSummary } from './money-back';
import { type OrderNotice, orderNoticeFor } from './order-notice';
import { refundWorkflow } from './refund';
import { isUnpaidFinal, type PaymentStatus } from './states';
import { iso, workflowNow } from './time';

export async function paymentOperatorWorkflow(input: OperatorWorkflowInput): Promise<void> {
  // One action at a time: the second waits for the first (two operators resolving the same review at once).
  let busy = false;
  let actions = 0;
  const oneAtATime =
    <A>(action: (input: OperatorWorkflowInput, request: A) => Promise<OperatorActionResult>) =>
    async (request: A) => {
      await condition(() => !busy);
      busy = true;
      try {
        return await action(input, request);
      } finally {
        busy = false;
        actions++;
      }
    };
  setHandler(resolveUpdate, oneAtATime(resolve), { validator: validateResolve });
  setHandler(renotifyUpdate, oneAtATime(renotify), { validator: validateRequest });
  setHandler(operatorRequeryUpdate, oneAtATime(requery), { validator: validateRequest });

  // Ends after idleMs without an action; the next action starts it again.
  for (;;) {
    const seen = actions;
    if (!(await condition(() => busy || actions !== seen, input.idleMs))) break;
    await condition(() => !busy);
  }
  await condition(allHandlersFinished);
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

async function resolve(input: OperatorWorkflowInput, request: ResolveRequest): Promise<OperatorActionResult> {
  const now = await store.operatorView(input.paymentId);
  if (now.status !== 'NEEDS_REVIEW')
    throw refusal(`the payment is ${now.status}: only a payment waiting for review (NEEDS_REVIEW) can be resolved`);
  const by = `${request.actor}: ${request.reason}`;
  switch (request.action) {
    case 'refund': {
      const view = await askChannel(now);
      if (view.state !== 'SUCCESS')
        throw refusal(
          `the channel never received this payment (it answers ${view.state}${view.channelStatus ? ` / ${view.channelStatus}` : ''}): there is nothing to refund; close the review instead`,
        );
      await startRefund(input, now, 'operator', `refund asked by ${by}`);
      return result(
        now,
        'NEEDS_REVIEW',
        `refund started (${refundWorkflowId(now.payment.paymentId)}): the payment becomes REFUNDED once the channel confirms it`,
      );
    }
    case 'accept': {
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

async function renotify(input: OperatorWorkflowInput, _request: OperatorRequest): Promise<OperatorActionResult> {
  const now = await store.operatorView(input.paymentId);
  if (!now.noticeStatus)
    throw refusal(`the payment is ${now.status} and was never decided: the order service has nothing to be told yet`);
  const notice = orderNoticeFor(now.payment, now.noticeStatus);
  const ack = await tellOrderNow(notice);
  return result(now, now.status, ackMessage(notice.status, ack));
}

async function requery(input: OperatorWorkflowInput, _request: OperatorRequest): Promise<OperatorActionResult> {
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
      await startRefund(input, now, 'late_success', why);
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

async function tellOrderNow(notice: OrderNotice): Promise<OrderAck> {
  try {
    return await orderOnce.notifyOrderService(notice);
  } catch (err) {
    if (!activityGaveUp(err)) throw err;
    throw unavailable(`the order service did not answer (${(err.cause ?? err).message}); try again`);
  }
}

async function startRefund(input: OperatorWorkflowInput, now: OperatorView, reason: MoneyBackReason, note: string) {
  const refund = { ...refundInput(now.payment, reason, input.policy.querySchedule), note };
  try {
    // It outlives this workflow (which ends when idle): abandoned, not terminated, when we close.
    await startChild(refundWorkflow, {
      workflowId: refundWorkflowId(now.payment.paymentId),
      staticSummary: refundSummary(refund),
      parentClosePolicy: ParentClosePolicy.ABANDON,
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

function ackMessage(status: string, ack: OrderAck): string {
  return `the order service was told ${status} again: ${ack.accepted ? 'acknowledged' : `refused (${ack.reason ?? 'no reason given'})`}`;
}

function result(now: OperatorView, status: PaymentStatus, message: string): OperatorActionResult {
  return { paymentId: now.payment.paymentId, status, message };
}

function refusal(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OPERATOR_REFUSAL, message, nonRetryable: true });
}

function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OPERATOR_UNAVAILABLE, message, nonRetryable: true });
}

export { ackMessage, tellOrderNow };
