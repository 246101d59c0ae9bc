// One payment, end to end. The workflow races the channel's callback against durable timers from the escalation
// schedule, queries the channel when the callback does not come, closes the payment at expiry, records the final
// state with a guarded update, and tells the order service with an activity that retries until acknowledged.
// After an unpaid final state it keeps watching for the late window: a success then is an anomaly, never dropped.
import { type SearchAttributeUpdatePair, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  condition,
  executeChild,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ChannelPaymentView } from '../channels/types';
import type { OrderAck } from '../activities/order-notifier';
import { activityGaveUp, channelMust, localQuery, localStore, queryOnce, store } from './activity-stubs';
import {
  type Anomaly,
  type AnomalyKind,
  cancelSignal,
  type ChannelCallback,
  channelCallbackSignal,
  type PaymentInput,
  type PaymentResult,
  type PaymentStatusView,
  payUrlUpdate,
  refundWorkflowId,
  requerySignal,
  searchAttributes,
  statusQuery,
} from './definitions';
import { refundWorkflow } from './refund';
import { nextWake } from './schedule';
import { isFinal, type PaymentStatus, type ResolvedBy, statusForChannelState, UNPAID_FINAL_STATUSES } from './states';
import { workflowNow } from './time';

/** Patch: state writes as local activities, and no re-upsert of the search attributes the API set at start. */
export const LEANER_HISTORY = 'leaner-history-2026-11';

/**
 * Patch: the order service is first told by a local activity (two quick attempts); only if that fails does the
 * durable, retrying activity take over. Saves the activity's three events and a workflow task on the usual path.
 */
export const LOCAL_FIRST_NOTIFY = 'local-first-notify-2026-11';

const quickNotify = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 2 },
});

/**
 * Patch: the checks' channel queries run as local activities. A query is a read (its event row may be written twice
 * on a retried workflow task, which is harmless) that takes milliseconds, so each check costs a marker instead of an
 * activity's three events and a second workflow task. Open payments are mostly checks: the benchmark found their
 * queries to be what a box full of open payments spends its engine time on.
 */
export const LOCAL_QUERIES = 'local-queries-2026-11';

const fmt = (ms: number) => new Date(ms).toISOString();

export async function paymentWorkflow(input: PaymentInput): Promise<PaymentResult> {
  const { paymentId, policy } = input;
  const { workflowId } = workflowInfo();
  const expiresAtMs = Date.parse(input.expiresAt);

  // The order service is told with the configured backoff and no attempt limit: never abandoned.
  const orders = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: policy.notifyInitialBackoffMs,
      backoffCoefficient: 2,
      maximumInterval: policy.notifyMaxBackoffMs,
    },
  });

  let status: PaymentStatus = 'UNPAID';
  let resolvedBy: ResolvedBy | undefined;
  let channelPaymentId: string | undefined;
  let payUrl: string | undefined;
  let creationSettled = false;
  let checksDone = 0;
  let queryFailures = 0;
  let nextCheckAtMs: number | undefined;
  let waitingFor = 'the channel to create the payment';
  let orderNotified = false;
  let duplicateCallbacks = 0;
  let ignoredCallbacks = 0;
  let cancelRequested = false;
  let requeryRequested = false;
  const anomalies: Anomaly[] = [];
  const seenEventIds = new Set<string>();
  const inbox: ChannelCallback[] = [];

  // ---- handlers ------------------------------------------------------------------------------------------------
  setHandler(channelCallbackSignal, (callback) => {
    if (seenEventIds.has(callback.eventId)) {
      duplicateCallbacks++;
      return;
    }
    seenEventIds.add(callback.eventId);
    inbox.push(callback);
  });
  setHandler(cancelSignal, () => {
    cancelRequested = true;
  });
  setHandler(requerySignal, () => {
    requeryRequested = true;
  });
  setHandler(
    statusQuery,
    (): PaymentStatusView => ({
      paymentId,
      status,
      ...(channelPaymentId ? { channelPaymentId } : {}),
      ...(payUrl ? { payUrl } : {}),
      expiresAt: input.expiresAt,
      checksDone,
      queryFailures,
      ...(nextCheckAtMs !== undefined ? { nextCheckAt: fmt(nextCheckAtMs) } : {}),
      ...(resolvedBy ? { resolvedBy } : {}),
      waitingFor,
      orderNotified,
      duplicateCallbacks,
      ignoredCallbacks,
      anomalies: [...anomalies],
    }),
  );
  setHandler(payUrlUpdate, async () => {
    await condition(() => creationSettled);
    return { paymentId, status, ...(payUrl ? { payUrl } : {}) };
  });

  // ---- helpers ---------------------------------------------------------------------------------------------------
  // Search attributes are upserted only when one changed: each upsert is a history event. Those the starter set
  // (the API sets status, order and channel) count as published already.
  // Each patch marker costs two history events (the marker and the TemporalChangeVersion upsert), so payments
  // started under LOCAL_QUERIES carry that one marker, which implies the earlier patches; payments already in flight
  // without it ask for the earlier ones as they did.
  const current = patched(LOCAL_QUERIES);
  const leaner = current || patched(LEANER_HISTORY);
  const writer = leaner ? localStore : store;
  const querier = current ? localQuery : queryOnce;
  const published = new Map<string, string>();
  if (leaner) {
    for (const pair of workflowInfo().typedSearchAttributes.getAll()) {
      published.set(pair.key.name, pair.value instanceof Date ? pair.value.toISOString() : String(pair.value));
    }
  }
  const showProgress = () => {
    const wanted: SearchAttributeUpdatePair[] = [
      { key: searchAttributes.paymentStatus, value: status },
      { key: searchAttributes.orderId, value: input.orderId },
      { key: searchAttributes.paymentChannel, value: input.channel },
      { key: searchAttributes.resolvedBy, value: resolvedBy ?? null },
      { key: searchAttributes.nextCheckAt, value: nextCheckAtMs !== undefined ? new Date(nextCheckAtMs) : null },
    ];
    const changed = wanted.filter(({ key, value }) => {
      const text = value instanceof Date ? value.toISOString() : String(value);
      if (published.get(key.name) === text || (value === null && !published.has(key.name))) return false;
      if (value === null) published.delete(key.name);
      else published.set(key.name, text);
      return true;
    });
    if (changed.length > 0) upsertSearchAttributes(changed);
    const lines = [
      `**${status}** ${input.amount} ${input.currency} for order ${input.orderId} via ${input.channel}`,
      `Waiting for: ${waitingFor}`,
      nextCheckAtMs !== undefined ? `Next channel query: ${fmt(nextCheckAtMs)}` : '',
      `Checks done: ${checksDone}${queryFailures ? ` (${queryFailures} failed)` : ''}; expires ${input.expiresAt}`,
      anomalies.length ? `Anomalies: ${anomalies.map((a) => a.kind).join(', ')}` : '',
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  };

  const noteAnomaly = async (kind: AnomalyKind, detail: string) => {
    const anomaly: Anomaly = { kind, at: fmt(workflowNow()), detail };
    anomalies.push(anomaly);
    await writer.recordAnomaly.executeWithOptions({ summary: `record anomaly: ${kind}` }, [
      { paymentId, channel: input.channel, anomaly },
    ]);
  };

  /** Moves to `to` through the guarded update; the row's answer is the truth (a refused move keeps its state). */
  const settle = async (to: PaymentStatus, by: ResolvedBy | undefined, paidAt?: string) => {
    const result = await writer.recordFinalState.executeWithOptions(
      { summary: `record ${to}${by ? ` (by ${by})` : ''}` },
      [
        {
          paymentId,
          status: to,
          ...(by ? { resolvedBy: by } : {}),
          ...(paidAt ? { paidAt } : {}),
          decidedAt: fmt(workflowNow()),
        },
      ],
    );
    status = result.status;
    resolvedBy = result.resolvedBy ?? resolvedBy;
    nextCheckAtMs = undefined;
    showProgress();
  };

  /** How activities name this payment at the channel (the channel's id once known). */
  const channelRef = () => ({ paymentId, channel: input.channel, channelPaymentId });

  /** Does a channel answer describe this payment (amount, currency)? A success that does not is not trusted. */
  const agrees = (view: { amount?: number; currency?: string }) =>
    view.amount === input.amount && view.currency === input.currency;

  /** Acts on a channel answer while the payment is open. NOT_FOUND before expiry means "not created yet": pending. */
  const applyChannelView = async (view: ChannelPaymentView, by: ResolvedBy) => {
    if (view.channelPaymentId && !channelPaymentId) channelPaymentId = view.channelPaymentId;
    if (view.state === 'NOT_FOUND' || view.state === 'PENDING') return;
    if (view.state === 'SUCCESS' && !agrees(view)) {
      await noteAnomaly(
        'query_mismatch',
        `channel reports ${view.amount} ${view.currency}, payment is ${input.amount} ${input.currency}`,
      );
      await settle('NEEDS_REVIEW', by);
      return;
    }
    await settle(statusForChannelState(view.state)!, by, view.paidAt);
  };

  /** A query that may fail (scheduled, operator): a failure is counted and logged; the loop goes on. */
  const tryQuery = async (
    reason: 'scheduled' | 'operator' | 'verify' | 'late',
  ): Promise<ChannelPaymentView | undefined> => {
    try {
      return await querier.queryChannelPayment.executeWithOptions({ summary: `query the channel (${reason})` }, [
        { ...channelRef(), reason },
      ]);
    } catch (err) {
      if (!activityGaveUp(err)) throw err;
      queryFailures++;
      log.warn('channel query failed; the next check will ask again', {
        paymentId,
        reason,
        error: (err.cause ?? err).message,
      });
      return undefined;
    }
  };

  const handleCallback = async (callback: ChannelCallback) => {
    const trusted = callback.channelPaymentId === channelPaymentId && agrees(callback);
    if (!trusted) {
      await noteAnomaly(
        'callback_mismatch',
        `callback ${callback.eventId} says ${callback.state} ${callback.amount} ${callback.currency} for ${callback.channelPaymentId}; the channel's query decides`,
      );
      const view = await tryQuery('verify');
      if (view) await applyChannelView(view, 'query');
      return;
    }
    if (callback.state === 'PENDING' || callback.state === 'NOT_FOUND') return;
    await settle(statusForChannelState(callback.state)!, 'callback', callback.paidAt);
  };

  /**
   * Money that must go back (a late success, or one the order refused): refund it by policy, through the one refund
   * workflow per payment, or leave it NEEDS_REVIEW for a person.
   */
  const refundOrReview = async (
    reason: 'late_success' | 'order_refused',
    by: ResolvedBy | undefined,
    paidAt?: string,
  ) => {
    if ((policy.lateSuccessPolicy ?? 'review') === 'review') {
      await settle('NEEDS_REVIEW', by, paidAt);
      return;
    }
    status = 'REFUNDING';
    waitingFor = 'the refund to complete';
    nextCheckAtMs = undefined;
    showProgress();
    try {
      const result = await executeChild(refundWorkflow, {
        workflowId: refundWorkflowId(paymentId),
        staticSummary: `Refund ${input.amount} ${input.currency} of payment ${paymentId} (${reason})`,
        args: [
          {
            paymentId,
            orderId: input.orderId,
            channel: input.channel,
            amount: input.amount,
            currency: input.currency,
            reason,
            querySchedule: policy.querySchedule,
          },
        ],
      });
      status = result.status;
    } catch (err) {
      // Someone (the API, the reconciler) started this payment's refund already; it carries on without us.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      log.info('refund already under way elsewhere', { paymentId });
    }
    showProgress();
  };

  /** The buyer gave up: close at the channel. If they paid in the meantime, the channel says so and paid wins. */
  const cancelAtChannel = async () => {
    waitingFor = 'the channel to close the payment (buyer cancelled)';
    showProgress();
    const view = await channelMust.closeChannelPayment.executeWithOptions(
      { summary: 'close at the channel (buyer cancelled)' },
      [{ ...channelRef(), reason: 'cancel' }],
    );
    if (view.state === 'CLOSED' || view.state === 'NOT_FOUND') await settle('CANCELLED', 'close');
    else await applyChannelView(view, 'close');
  };

  /** Expiry: one last query; still pending, close it. Closing can lose a race with a payment: the channel decides. */
  const expire = async () => {
    waitingFor = 'the final query before closing';
    showProgress();
    const last = await channelMust.queryChannelPayment.executeWithOptions({ summary: 'final query at expiry' }, [
      { ...channelRef(), reason: 'expiry' },
    ]);
    if (last.channelPaymentId && !channelPaymentId) channelPaymentId = last.channelPaymentId;
    if (last.state === 'SUCCESS' || last.state === 'FAILED' || last.state === 'CLOSED') {
      await applyChannelView(last, 'query');
      return;
    }
    waitingFor = 'the channel to close the expired payment';
    showProgress();
    const closed = await channelMust.closeChannelPayment.executeWithOptions(
      { summary: 'close at the channel (expired)' },
      [{ ...channelRef(), reason: 'expiry' }],
    );
    if (closed.state === 'NOT_FOUND' || closed.state === 'PENDING') {
      // Never created there, or the channel kept it open: it cannot be paid through us any more.
      await settle('CLOSED', 'close');
    } else {
      await applyChannelView(closed, 'close');
    }
  };

  // ---- 1. create the payment at the channel ---------------------------------------------------------------------
  showProgress();
  let waitStartMs = workflowNow();
  try {
    const untilExpiry = Math.max(expiresAtMs - workflowNow(), 1000);
    const created = await proxyActivities<Activities>({
      summary: 'create the payment at the channel',
      startToCloseTimeout: '15 seconds',
      scheduleToCloseTimeout: untilExpiry,
      retry: {
        initialInterval: '1 second',
        backoffCoefficient: 2,
        maximumInterval: '1 minute',
        nonRetryableErrorTypes: ['UnknownChannel'],
      },
    }).createChannelPayment({
      paymentId,
      channel: input.channel,
      orderId: input.orderId,
      amount: input.amount,
      currency: input.currency,
    });
    if (created.outcome === 'created') {
      channelPaymentId = created.channelPaymentId;
      payUrl = created.payUrl;
      status = created.status;
    } else {
      await settle('FAILED', undefined);
    }
  } catch (err) {
    // The channel never answered before expiry. Whether it created the payment is unknown: expiry will ask it.
    if (!activityGaveUp(err)) throw err;
    log.warn('payment creation at the channel did not complete before expiry', { paymentId });
  }
  creationSettled = true;
  waitStartMs = workflowNow();

  // ---- 2. wait: callback, cancel or requery, against the escalation timers --------------------------------------
  while (!isFinal(status)) {
    const wake = nextWake(waitStartMs, policy.querySchedule, checksDone, expiresAtMs);
    nextCheckAtMs = wake.at;
    waitingFor = wake.isExpiry ? "the channel's callback, or expiry" : "the channel's callback, or the next query";
    showProgress();
    await condition(
      () => inbox.length > 0 || cancelRequested || requeryRequested,
      Math.max(wake.at - workflowNow(), 1),
      { summary: wake.isExpiry ? 'callback, or expiry' : `callback, or query #${checksDone + 1}` },
    );

    const callback = inbox.shift();
    if (callback) {
      await handleCallback(callback);
    } else if (cancelRequested) {
      cancelRequested = false;
      await cancelAtChannel();
    } else if (requeryRequested) {
      requeryRequested = false;
      const view = await tryQuery('operator');
      if (view) await applyChannelView(view, 'operator');
    } else if (workflowNow() >= wake.at) {
      if (wake.isExpiry) {
        await expire();
      } else {
        checksDone++;
        const view = await tryQuery('scheduled');
        if (view) await applyChannelView(view, 'query');
      }
    }
  }
  creationSettled = true;

  // ---- 3. tell the order service; never give up ------------------------------------------------------------------
  if (status === 'SUCCESS' || status === 'FAILED' || status === 'CANCELLED' || status === 'CLOSED') {
    waitingFor = 'the order service to acknowledge';
    showProgress();
    const notice = {
      orderId: input.orderId,
      paymentId,
      status,
      amount: input.amount,
      currency: input.currency,
      idempotencyKey: `${workflowId}:notify-order:${status}`,
      channel: input.channel,
    };
    const summary = `tell the order service: ${status}`;
    let ack: OrderAck | undefined;
    if (current || patched(LOCAL_FIRST_NOTIFY)) {
      // Usually the order service answers at once: a local activity does it inside this workflow task.
      try {
        ack = await quickNotify.notifyOrderService.executeWithOptions({ summary: `${summary} (first try)` }, [notice]);
      } catch (err) {
        if (!activityGaveUp(err)) throw err;
        log.info('order service did not acknowledge at once; the retrying activity takes over', { paymentId });
      }
    }
    // When it does not, the durable activity retries with capped backoff until it does: never abandoned.
    ack ??= await orders.notifyOrderService.executeWithOptions({ summary }, [notice]);
    orderNotified = true;
    if (!ack.accepted && status === 'SUCCESS') {
      // Paid, but the order will not take it (cancelled meanwhile, or paid by another payment): the money goes back.
      await noteAnomaly(
        'order_refused',
        `the order service refused the paid result: ${ack.reason ?? 'no reason given'}`,
      );
      if (ack.reason === 'amount_mismatch') await settle('NEEDS_REVIEW', resolvedBy);
      else await refundOrReview('order_refused', resolvedBy);
    }
  }

  // ---- 4. after the final state -----------------------------------------------------------------------------------
  if (UNPAID_FINAL_STATUSES.includes(status)) {
    // The late window: channels retry callbacks for about a day. Watch, and ask the channel again (soon after
    // the close, when a race is likeliest, and once more at the end). A success now is an anomaly, never dropped.
    const finalAtMs = workflowNow();
    const lateEnd = finalAtMs + policy.lateWindowMs;
    const lateChecks = [...new Set([Math.min(finalAtMs + policy.querySchedule[0]!, lateEnd), lateEnd])];
    const lateSuccess = async (how: string, by: ResolvedBy, paidAt?: string) => {
      await noteAnomaly('late_success', `${how} after the payment was ${status}`);
      await refundOrReview('late_success', by, paidAt);
    };
    const onLateView = async (view: ChannelPaymentView | undefined, by: ResolvedBy) => {
      if (view?.state === 'SUCCESS') await lateSuccess('the channel reported SUCCESS', by, view.paidAt);
    };
    for (const checkAt of lateChecks) {
      while (UNPAID_FINAL_STATUSES.includes(status)) {
        nextCheckAtMs = checkAt;
        waitingFor = 'late callbacks (late window)';
        showProgress();
        await condition(() => inbox.length > 0 || requeryRequested, Math.max(checkAt - workflowNow(), 1), {
          summary:
            checkAt === lateEnd ? 'late window: last look' : 'late window: callback, or a look soon after the close',
        });
        const callback = inbox.shift();
        if (callback) {
          if (callback.state !== 'SUCCESS') {
            ignoredCallbacks++;
          } else if (callback.channelPaymentId === channelPaymentId && agrees(callback)) {
            await lateSuccess(`callback ${callback.eventId} reported SUCCESS`, 'callback', callback.paidAt);
          } else {
            await noteAnomaly(
              'callback_mismatch',
              `late callback ${callback.eventId} does not match the payment; the query decides`,
            );
            await onLateView(await tryQuery('verify'), 'query');
          }
        } else if (requeryRequested) {
          requeryRequested = false;
          await onLateView(await tryQuery('operator'), 'operator');
        } else if (workflowNow() >= checkAt) {
          // The last look must get an answer; an earlier one may fail and leave it to the last.
          const view =
            checkAt === lateEnd
              ? await channelMust.queryChannelPayment.executeWithOptions(
                  { summary: 'query the channel (end of the late window)' },
                  [{ ...channelRef(), reason: 'late' }],
                )
              : await tryQuery('late');
          await onLateView(view, 'query');
          break;
        }
      }
    }
  }
  // Anything still in the inbox after SUCCESS is a duplicate or a stale report (e.g. FAILED after SUCCESS).
  ignoredCallbacks += inbox.splice(0).length;
  nextCheckAtMs = undefined;
  waitingFor = 'nothing (done)';
  showProgress();
  log.info('payment finished', { paymentId, status, resolvedBy: resolvedBy ?? null });
  return { paymentId, status, ...(resolvedBy ? { resolvedBy } : {}), anomalies };
}
