// Step 4: tell the order service the decided state, and never give up until it acknowledges. A paid result the
// order will not take (cancelled meanwhile, or paid by another payment) means the money goes back.
import { log, workflowInfo } from '@temporalio/workflow';
import type { OrderAck } from '../../activities/order-notifier';
import { activityGaveUp, orderFirstTry, orderUntilAcknowledged } from '../activity-options';
import { isDecided } from '../states';
import type { PaymentState } from './state';
import { noteAnomaly, sendMoneyBack } from './steps';

export async function tellOrderService(p: PaymentState): Promise<void> {
  const { status } = p;
  if (!isDecided(status)) return; // NEEDS_REVIEW (the amount disagreed): a person decides what the order hears
  p.doing('the order service to acknowledge');
  const { orderId, paymentId, amount, currency, channel, policy } = p.input;
  const notice = {
    orderId,
    paymentId,
    status,
    amount,
    currency,
    channel,
    idempotencyKey: `${workflowInfo().workflowId}:notify-order:${status}`,
  };
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
  ack ??= await orderUntilAcknowledged(policy).notifyOrderService.executeWithOptions({ summary }, [notice]);
  p.orderNotified = true;
  if (!ack.accepted && status === 'SUCCESS') {
    const refusal = ack.reason ?? 'no reason given';
    await noteAnomaly(p, 'order_refused', `the order service refused the paid result: ${refusal}`);
    await sendMoneyBack(p, 'order_refused', p.resolvedBy, { orderRefusal: refusal });
  }
}
