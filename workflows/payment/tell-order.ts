// Step 4: tell the order service the decided state, and never give up until it acknowledges. A paid result the
// order will not take (cancelled meanwhile, or paid by another payment) means the money goes back. An operator's
// renotify (the order service is fixed, and waiting out the backoff is not wanted) starts the next attempt now.
import { log } from '@temporalio/workflow';
import type { OrderAck } from '../../activities/order-notifier';
import { activityGaveUp, orderFirstTry, orderUntilAcknowledged } from '../activity-options';
import { type OrderNotice, orderNoticeFor } from '../order-notice';
import { isDecided } from '../states';
import type { PaymentState } from './state';
import { againWhenAsked, noteAnomaly, sendMoneyBack } from './steps';

export async function tellOrderService(p: PaymentState): Promise<void> {
  const { status } = p;
  if (!isDecided(status)) return; // NEEDS_REVIEW (the amount disagreed): a person decides what the order hears
  p.doing('the order service to acknowledge');
  const { paymentId } = p.input;
  const notice = orderNoticeFor(p.input, status);
  p.orderNotice = notice;
  const summary = `tell the order service: ${status}`;
  let ack: OrderAck | undefined;
  try {
    // Usually the order service answers at once: a local activity does it inside this workflow task.
    ack = await orderFirstTry.notifyOrderService.executeWithOptions({ summary: `${summary} (first try)` }, [notice]);
  } catch (err) {
    if (!activityGaveUp(err)) throw err;
    log.info('order service did not acknowledge at once; the retrying activity takes over', { paymentId });
  }
  // When it does not, the durable activity retries with capped backoff until it does: never abandoned.
  ack ??= await untilAcknowledged(p, notice, summary);
  p.orderNotified = true;
  if (!ack.accepted && status === 'SUCCESS') {
    const refusal = ack.reason ?? 'no reason given';
    await noteAnomaly(p, 'order_refused', `the order service refused the paid result: ${refusal}`);
    await sendMoneyBack(p, 'order_refused', p.resolvedBy, { orderRefusal: refusal });
  }
}

/** The retrying activity; an operator's renotify cancels the attempt waiting out its backoff and starts a new one. */
function untilAcknowledged(p: PaymentState, notice: OrderNotice, summary: string): Promise<OrderAck> {
  return againWhenAsked(
    p,
    'telling the order service',
    () => orderUntilAcknowledged(p.input.policy).notifyOrderService.executeWithOptions({ summary }, [notice]),
    () => p.renotifyRequested,
    () => {
      p.renotifyRequested = false;
    },
  );
}
