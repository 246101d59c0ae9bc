// Every activity call a workflow makes, with its timeouts and retries, defined once. Workflows import the stubs
// from here, never their own proxyActivities, so "how hard do we try" has one answer per kind of call.
import {
  type ActivityOptions,
  CancelledFailure,
  type LocalActivityOptions,
  proxyActivities,
  proxyLocalActivities,
  type RetryPolicy,
  TemporalFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PaymentPolicyInput } from './definitions';

/** An unconfigured channel does not appear by waiting: never retried. */
const NOT_RETRYABLE = ['UnknownChannel'];

/** Database writes: short, retried until they succeed (the database coming back is only a matter of time). */
const storeCall = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} satisfies LocalActivityOptions;
/** The refund workflow's writes, as activities. */
export const store = proxyActivities<Activities>(storeCall);
/**
 * The payment workflow's writes as local activities: they run inside the workflow task, so a state change costs one
 * marker event and no extra round trip through the server, instead of three events and another workflow task.
 */
export const localStore = proxyLocalActivities<Activities>(storeCall);

/** A scheduled query may fail: a few quick retries, then the failure is counted and the next check comes. */
const queryCall = {
  startToCloseTimeout: '15 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: NOT_RETRYABLE,
  },
} satisfies LocalActivityOptions;
/** The refund workflow's status queries, as activities. */
export const queryOnce = proxyActivities<Activities>(queryCall);
/**
 * The payment workflow's checks. A query is a read that takes milliseconds (its event row may be written twice on a
 * retried workflow task, which is harmless): as a local activity it costs a marker, not three events and a task.
 */
export const localQuery = proxyLocalActivities<Activities>(queryCall);

/** Calls whose answer cannot be done without (expiry's query, closing, refunding): retried until the channel answers. */
const channelRetry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  nonRetryableErrorTypes: NOT_RETRYABLE,
};
export const channelMust = proxyActivities<Activities>({ startToCloseTimeout: '15 seconds', retry: channelRetry });

/**
 * Creating the payment at the channel: retried like the calls above, but only until the payment expires (after that,
 * whether it was created is expiry's question).
 */
export function creation(untilExpiryMs: number) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: Math.max(untilExpiryMs, 1000),
    retry: channelRetry,
  });
}

/** The order service's first try: a local activity inside the workflow task (two quick attempts). */
export const orderFirstTry = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 2 },
});

/** An operator's notice, asked for now: a few quick attempts, then the operator hears it did not answer. */
export const orderOnce = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 3 },
});

/** After that, the order service is told with the configured backoff and no attempt limit: never abandoned. */
export function orderUntilAcknowledged(
  policy: Pick<PaymentPolicyInput, 'notifyInitialBackoffMs' | 'notifyMaxBackoffMs'>,
) {
  return proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: policy.notifyInitialBackoffMs,
      backoffCoefficient: 2,
      maximumInterval: policy.notifyMaxBackoffMs,
    },
  });
}

/** Reconciliation runs: long, heartbeating, a few tries (the next scheduled run is the real retry). */
export const reconcile = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 },
} satisfies ActivityOptions);

/** The benchmark's yardstick. */
export const baseline = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds' });

/**
 * Did an activity call fail (its retries used up), as opposed to the workflow being cancelled or a bug? A remote
 * activity's failure arrives as an ActivityFailure, a local activity's as its cause (an ApplicationFailure): both are
 * TemporalFailures.
 */
export function activityGaveUp(err: unknown): err is TemporalFailure {
  return err instanceof TemporalFailure && !(err instanceof CancelledFailure);
}
