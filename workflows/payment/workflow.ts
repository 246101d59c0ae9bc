// One payment, end to end: the handlers, and a main that reads as the README's steps. The state and its views are
// in state.ts; each phase is a file of its own; every activity's options are in ../activity-options.ts.
import { allHandlersFinished, condition, log, setHandler } from '@temporalio/workflow';
import {
  cancelSignal,
  channelCallbackSignal,
  type PaymentInput,
  type PaymentResult,
  payUrlUpdate,
  renotifyUpdate,
  REQUERY_NOW_MESSAGE,
  requerySignal,
  statusQuery,
} from '../definitions';
import { ackMessage, audited, refusal, tellOrderNow, validateRequest } from '../operator';
import { createAtChannel } from './create';
import { watchLateWindow } from './late-window';
import { PaymentState } from './state';
import { tellOrderService } from './tell-order';
import { awaitDecision } from './wait';

export async function paymentWorkflow(input: PaymentInput): Promise<PaymentResult> {
  const payment = new PaymentState(input);

  // The channel's callback, verified by the API; retries of one notification are deduplicated by its event id.
  setHandler(channelCallbackSignal, (callback) => payment.receiveCallback(callback));
  // The buyer gives up (a payment already made wins), and an operator's "ask the channel now".
  setHandler(cancelSignal, () => payment.requestCancel());
  setHandler(requerySignal, async (request) => {
    payment.requestRequery();
    // An operator's ask goes into the payment's audit log (the reconciler's are its own events).
    if (request?.operator)
      await audited(input, 'requery', request.operator, async () => ({
        paymentId: input.paymentId,
        status: payment.status,
        message: REQUERY_NOW_MESSAGE,
      }));
  });
  // What it is doing and why (the API's ?live=1, the Web UI's Query tab).
  setHandler(statusQuery, () => payment.view());
  // The API's update-with-start: answered once the channel has created the payment, with the pay URL.
  setHandler(payUrlUpdate, async () => {
    await condition(() => payment.creationSettled);
    return payment.payUrlResult();
  });

  // An operator's "tell the order service again": now, instead of waiting out the backoff; or once more after it
  // acknowledged (same idempotency key). Not before the payment is decided: there is nothing to tell.
  setHandler(
    renotifyUpdate,
    (request) =>
      audited(input, 'renotify', request, async () => {
        const notice = payment.orderNotice;
        if (!notice)
          throw refusal(`the payment is ${payment.status} and not decided yet: the order service is told once it is`);
        if (!payment.orderNotified) {
          payment.renotifyRequested = true;
          return {
            paymentId: input.paymentId,
            status: payment.status,
            message: `the order service is being told ${notice.status} again now (its retry backoff starts over)`,
          };
        }
        const ack = await tellOrderNow(notice);
        return { paymentId: input.paymentId, status: payment.status, message: ackMessage(notice.status, ack) };
      }),
    { validator: validateRequest },
  );

  // 1. Ask the channel to create the payment; the buyer gets the pay URL from here.
  await createAtChannel(payment);

  // 2-3. Wait for the callback, racing the escalation schedule's timers; when a timer fires first, query the
  //      channel. At expiry, one last query, then close at the channel (a close that loses to a payment: paid wins).
  await awaitDecision(payment);

  // 4. Tell the order service the decided state, retrying until it acknowledges: never abandoned.
  await tellOrderService(payment);

  // 5. After CLOSED, CANCELLED or FAILED, watch the late window: a success now sends the money back.
  await watchLateWindow(payment);

  await condition(allHandlersFinished); // an operator's renotify in flight finishes first

  log.info('payment finished', {
    paymentId: input.paymentId,
    status: payment.status,
    resolvedBy: payment.resolvedBy ?? null,
  });
  return payment.finish();
}
