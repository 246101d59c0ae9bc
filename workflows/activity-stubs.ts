// The activity stubs the payment and refund workflows share: one definition of each call's timeouts and retries.
import type { Duration, RetryPolicy } from '@temporalio/common';
import { CancelledFailure, proxyActivities, proxyLocalActivities, TemporalFailure } from '@temporalio/workflow';
import type { Activities } from '../activities';

interface CallOptions {
  startToCloseTimeout: Duration;
  retry: RetryPolicy;
}

/** Database writes: short, retried until they succeed (the database coming back is only a matter of time). */
const storeCall: CallOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};
export const store = proxyActivities<Activities>(storeCall);
/**
 * The same writes as local activities: they run inside the workflow task, so a state change costs one marker event
 * and no extra round trip through the server, instead of three events and another workflow task.
 */
export const localStore = proxyLocalActivities<Activities>(storeCall);

/** A scheduled query may fail: a few quick retries, then the failure is counted and the next check comes. */
const queryCall: CallOptions = {
  startToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: ['UnknownChannel'],
  },
};
export const queryOnce = proxyActivities<Activities>(queryCall);
/** A query is a read that takes milliseconds: as a local activity it costs a marker, not three events and a task. */
export const localQuery = proxyLocalActivities<Activities>(queryCall);

/** Calls whose answer cannot be done without (expiry's query, closing, refunding): retried until the channel answers. */
export const channelMust = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: ['UnknownChannel'],
  },
});

/**
 * Did an activity call fail (its retries used up), as opposed to the workflow being cancelled or a bug? A remote
 * activity's failure arrives as an ActivityFailure, a local activity's as its cause (an ApplicationFailure): both are
 * TemporalFailures.
 */
export function activityGaveUp(err: unknown): err is TemporalFailure {
  return err instanceof TemporalFailure && !(err instanceof CancelledFailure);
}
