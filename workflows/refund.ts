// Returns money that must not stay with the shop: a success after the payment was closed, cancelled or failed, or
// one the order service refused. One refund per payment (workflow id refund-<paymentId>, refund key likewise), so
// the payment workflow, the API and the reconciler can all ask for it and only one happens. The refund is followed
// to its end with the same escalating query schedule as payments.
import { log, setCurrentDetails, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { activityGaveUp, channelMust, queryOnce, store } from './activity-options';
import { type RefundInput, type RefundResult, searchAttributes } from './definitions';
import { moneyBackReason } from './money-back';
import { checkTime } from './schedule';
import type { PaymentStatus } from './states';
import { iso, workflowNow } from './time';

export async function refundWorkflow(input: RefundInput): Promise<RefundResult> {
  const { paymentId } = input;
  const refundKey = workflowInfo().workflowId;
  let status: PaymentStatus = 'REFUNDING';
  const show = (details: string) => {
    upsertSearchAttributes([
      { key: searchAttributes.paymentStatus, value: status },
      { key: searchAttributes.orderId, value: input.orderId },
      { key: searchAttributes.paymentChannel, value: input.channel },
    ]);
    setCurrentDetails(`**${status}** refund of ${input.amount} ${input.currency} (${input.reason})\n\n${details}`);
  };
  const why = input.note ?? moneyBackReason(input.reason);
  const settle = async (to: PaymentStatus, reason: string) => {
    status = (
      await store.recordFinalState({
        paymentId,
        status: to,
        reason,
        ...(input.reason === 'operator' ? { resolvedBy: 'operator' as const } : {}),
        decidedAt: iso(workflowNow()),
      })
    ).status;
    return status;
  };
  const refundFailed = (detail: string) =>
    store.recordAnomaly({
      paymentId,
      channel: input.channel,
      anomaly: { kind: 'refund_failed', at: iso(workflowNow()), detail },
    });

  if (input.reason === 'operator') {
    // A person resolves a review by refunding: the payment stays NEEDS_REVIEW (the operator workflow checked) until
    // the refund succeeds; there is no way back from REFUNDING to a review.
    status = 'NEEDS_REVIEW';
  } else {
    show('moving the payment to REFUNDING');
    if ((await settle('REFUNDING', `refunding: ${why}`)) !== 'REFUNDING') {
      // Already refunded, or a person took it over (NEEDS_REVIEW): nothing for this workflow to do.
      log.info('refund not started: the payment is not refundable now', { paymentId, status });
      return { paymentId, status };
    }
  }

  show('asking the channel to refund');
  const refund = await channelMust.refundChannelPayment({
    paymentId,
    channel: input.channel,
    amount: input.amount,
    refundKey,
  });
  if (refund.outcome === 'rejected') {
    await refundFailed(`the channel refused the refund: ${refund.reason}`);
    show(`the channel refused the refund (${refund.reason}); a person must look`);
    await settle('NEEDS_REVIEW', `the channel refused the refund (${refund.reason}); a person decides`);
    return { paymentId, status };
  }

  let state: string = refund.state;
  const startedMs = workflowNow();
  for (let checks = 0; state === 'PROCESSING'; checks++) {
    const next = checkTime(startedMs, input.querySchedule, checks);
    show(`refund ${refund.refundId} is processing; next query ${iso(next)}`);
    await sleep(Math.max(next - workflowNow(), 1), { summary: `wait, then query refund (#${checks + 1})` });
    try {
      state = await queryOnce.queryChannelRefund({
        paymentId,
        channel: input.channel,
        channelPaymentId: refund.channelPaymentId,
        refundId: refund.refundId,
      });
    } catch (err) {
      if (!activityGaveUp(err)) throw err;
      log.warn('refund query failed; the next check asks again', { paymentId });
    }
  }
  if (state === 'SUCCESS') {
    // Refused only if the payment moved meanwhile (the state machine has no other way out of REFUNDING or a review):
    // the money is back with the buyer whatever the row says, and a person must know.
    const now = await settle('REFUNDED', `refunded: ${why}`);
    if (now !== 'REFUNDED')
      await refundFailed(`refund ${refund.refundId} succeeded, but the payment had moved to ${now}`);
  } else {
    await refundFailed(`refund ${refund.refundId} ended ${state}`);
    await settle('NEEDS_REVIEW', `refund ${refund.refundId} ended ${state}; a person decides`);
  }
  show(
    state === 'SUCCESS'
      ? `refund ${refund.refundId} completed`
      : `refund ${refund.refundId} ended ${state}; a person must look`,
  );
  return { paymentId, status, refundId: refund.refundId };
}
