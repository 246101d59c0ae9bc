// Step 1: create the payment at the channel (idempotent there on our payment id). The API's update-with-start
// waits for this step to hand the buyer the pay URL.
import { log } from '@temporalio/workflow';
import { activityGaveUp, creation } from '../activity-options';
import { workflowNow } from '../time';
import type { PaymentState } from './state';
import { settle } from './steps';

export async function createAtChannel(p: PaymentState): Promise<void> {
  const { paymentId, channel, orderId, amount, currency, expiresAt, description } = p.input;
  p.show();
  try {
    const created = await creation(Date.parse(expiresAt) - workflowNow()).createChannelPayment.executeWithOptions(
      { summary: 'create the payment at the channel' },
      [{ paymentId, channel, orderId, amount, currency, expiresAt, ...(description ? { description } : {}) }],
    );
    if (created.outcome === 'created') {
      p.channelPaymentId = created.channelPaymentId;
      p.payUrl = created.payUrl;
      p.handoff = created.handoff;
      p.status = created.status;
      p.createdAtChannel = true;
    } else {
      await settle(p, 'FAILED', undefined, { reason: `the channel refused to create the payment: ${created.reason}` });
    }
  } catch (err) {
    // The channel never answered before expiry. Whether it created the payment is unknown: expiry will ask it.
    if (!activityGaveUp(err)) throw err;
    log.warn('payment creation at the channel did not complete before expiry', { paymentId });
  }
  p.creationSettled = true;
}
