// Step 2 and 3: wait for the channel's callback, racing durable timers from the escalation schedule; query the
// channel when a timer fires first; at expiry, one last query and the close. Also what a buyer's cancel and an
// operator's requery do meanwhile. Ends when the payment has a final state.
import { condition } from '@temporalio/workflow';
import { channelMust } from '../activity-options';
import type { ChannelCallback } from '../definitions';
import { nextWake } from '../schedule';
import { isFinal, statusForChannelState } from '../states';
import { workflowNow } from '../time';
import type { PaymentState } from './state';
import { applyChannelView, channelReason, learnFrom, noteAnomaly, settle, tryQuery, untilAnswered } from './steps';

export async function awaitDecision(p: PaymentState): Promise<void> {
  const waitStartMs = workflowNow();
  const expiresAtMs = Date.parse(p.input.expiresAt);
  while (!isFinal(p.status)) {
    const wake = nextWake(waitStartMs, p.input.policy.querySchedule, p.checksDone, expiresAtMs);
    p.waitUntil(
      wake.isExpiry ? "the channel's callback, or expiry" : "the channel's callback, or the next query",
      wake.at,
    );
    await condition(() => p.hasNews({ cancel: true }), Math.max(wake.at - workflowNow(), 1), {
      summary: wake.isExpiry ? 'callback, or expiry' : `callback, or query #${p.checksDone + 1}`,
    });

    const callback = p.nextCallback();
    if (callback) {
      await handleCallback(p, callback);
    } else if (p.takeCancel()) {
      await cancelAtChannel(p);
    } else if (p.takeRequery()) {
      const view = await tryQuery(p, 'operator');
      if (view) await applyChannelView(p, view, 'operator');
    } else if (workflowNow() >= wake.at) {
      if (wake.isExpiry) {
        await expire(p);
      } else {
        p.checksDone++;
        const view = await tryQuery(p, 'scheduled');
        if (view) await applyChannelView(p, view, 'query');
      }
    }
  }
}

/** A callback is trusted only if it matches the payment; otherwise the channel's query decides. */
async function handleCallback(p: PaymentState, callback: ChannelCallback): Promise<void> {
  if (!p.trusts(callback)) {
    await noteAnomaly(
      p,
      'callback_mismatch',
      `callback ${callback.eventId} says ${callback.state} ${callback.amount} ${callback.currency} for ${callback.channelPaymentId}; the channel's query decides`,
    );
    const view = await tryQuery(p, 'verify');
    if (view) await applyChannelView(p, view, 'query');
    return;
  }
  if (callback.state === 'PENDING' || callback.state === 'NOT_FOUND') return;
  await settle(p, statusForChannelState(callback.state)!, 'callback', {
    paidAt: callback.paidAt,
    reason: channelReason(callback),
  });
}

/** The buyer gave up: close at the channel. If they paid in the meantime, the channel says so and paid wins. */
async function cancelAtChannel(p: PaymentState): Promise<void> {
  const view = await closeAtChannel(p, 'cancel');
  await learnFrom(p, view);
  if (view.state === 'CLOSED' || view.state === 'NOT_FOUND')
    await settle(p, 'CANCELLED', 'close', { reason: 'the buyer cancelled the payment' });
  else await applyChannelView(p, view, 'close');
}

/** Expiry: one last query; still pending, close it. Closing can lose a race with a payment: the channel decides. */
async function expire(p: PaymentState): Promise<void> {
  p.doing('the final query before closing');
  const last = await untilAnswered(p, 'the final query', () =>
    channelMust.queryChannelPayment.executeWithOptions({ summary: 'final query at expiry' }, [
      { ...p.channelRef(), reason: 'expiry' },
    ]),
  );
  await learnFrom(p, last);
  if (last.state === 'SUCCESS' || last.state === 'FAILED' || last.state === 'CLOSED') {
    await applyChannelView(p, last, 'query');
    return;
  }
  const closed = await closeAtChannel(p, 'expiry');
  await learnFrom(p, closed);
  // NOT_FOUND or still PENDING: never created there, or the channel kept it open. It cannot be paid through us now.
  if (closed.state === 'NOT_FOUND' || closed.state === 'PENDING')
    await settle(p, 'CLOSED', 'close', { reason: `not paid by ${p.input.expiresAt}: closed at expiry` });
  else if (closed.state === 'CLOSED')
    await settle(p, 'CLOSED', 'close', {
      reason: `not paid by ${p.input.expiresAt}: closed at expiry${closed.reason ? ` (${closed.reason})` : ''}`,
    });
  else await applyChannelView(p, closed, 'close');
}

/** Closes the payment at the channel, retried until it answers; the answer is the state the payment ended in. */
async function closeAtChannel(p: PaymentState, reason: 'cancel' | 'expiry') {
  const why = reason === 'cancel' ? 'buyer cancelled' : 'expired';
  p.doing(`the channel to close the payment (${why})`);
  return untilAnswered(p, 'the close', () =>
    channelMust.closeChannelPayment.executeWithOptions({ summary: `close at the channel (${why})` }, [
      { ...p.channelRef(), reason },
    ]),
  );
}
