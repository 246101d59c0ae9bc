// Step 5: after an unpaid final state (CLOSED, CANCELLED, FAILED), keep watching for the late window. Channels
// retry callbacks for about a day; the channel is also asked twice more (soon after the close, when a race is
// likeliest, and at the end). A success now is an anomaly, never dropped: its money goes back (money-back.ts).
import { condition } from '@temporalio/workflow';
import type { ChannelPaymentView } from '../../channels/types';
import { channelMust } from '../activity-options';
import { isUnpaidFinal, type ResolvedBy } from '../states';
import { workflowNow } from '../time';
import type { PaymentState } from './state';
import { learnFrom, noteAnomaly, sendMoneyBack, tryQuery, untilAnswered } from './steps';

export async function watchLateWindow(p: PaymentState): Promise<void> {
  if (!isUnpaidFinal(p.status)) return;
  const finalAtMs = workflowNow();
  const lateEnd = finalAtMs + p.input.policy.lateWindowMs;
  const looks = [...new Set([Math.min(finalAtMs + p.input.policy.querySchedule[0]!, lateEnd), lateEnd])];

  const lateSuccess = async (how: string, by: ResolvedBy, paidAt?: string) => {
    await noteAnomaly(p, 'late_success', `${how} after the payment was ${p.status}`);
    await sendMoneyBack(p, 'late_success', by, { paidAt });
  };
  const onView = async (view: ChannelPaymentView | undefined, by: ResolvedBy) => {
    await learnFrom(p, view);
    if (view?.state === 'SUCCESS') await lateSuccess('the channel reported SUCCESS', by, view.paidAt);
  };

  for (const lookAt of looks) {
    while (isUnpaidFinal(p.status)) {
      p.waitUntil('late callbacks (late window)', lookAt);
      await condition(() => p.hasNews({ cancel: false }), Math.max(lookAt - workflowNow(), 1), {
        summary:
          lookAt === lateEnd ? 'late window: last look' : 'late window: callback, or a look soon after the close',
      });
      const callback = p.nextCallback();
      if (callback) {
        if (callback.state !== 'SUCCESS') {
          p.ignoreCallback();
        } else if (p.trusts(callback)) {
          await lateSuccess(`callback ${callback.eventId} reported SUCCESS`, 'callback', callback.paidAt);
        } else {
          await noteAnomaly(
            p,
            'callback_mismatch',
            `late callback ${callback.eventId} does not match the payment; the query decides`,
          );
          await onView(await tryQuery(p, 'verify'), 'query');
        }
      } else if (p.takeRequery()) {
        await onView(await tryQuery(p, 'operator'), 'operator');
      } else if (workflowNow() >= lookAt) {
        // The last look must get an answer; an earlier one may fail and leave it to the last.
        const view =
          lookAt === lateEnd
            ? await untilAnswered(p, 'the last look', () =>
                channelMust.queryChannelPayment.executeWithOptions(
                  { summary: 'query the channel (end of the late window)' },
                  [{ ...p.channelRef(), reason: 'late' }],
                ),
              )
            : await tryQuery(p, 'late');
        await onView(view, 'query');
        break;
      }
    }
  }
}
