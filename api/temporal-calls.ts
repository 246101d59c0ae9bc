import type { Client, WorkflowHandle } from '@temporalio/client';
import { paymentWorkflowId } from '../workflows/definitions';
import type { paymentWorkflow } from '../workflows/payment';

/**
 * How long a request waits for Temporal. Short on purpose: a channel waits only a few seconds for our answer to a
 * callback, and a 503 it sees (and retries) is better than a timeout it cannot tell from success or failure.
 */
export const TEMPORAL_CALL_DEADLINE_MS = 3000;

/** Runs a Temporal call with the request deadline; past it the call fails (and the caller answers 503). */
export function withinDeadline<T>(temporal: Client, fn: () => Promise<T>): Promise<T> {
  return temporal.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, fn);
}

export function paymentHandle(temporal: Client, paymentId: string): WorkflowHandle<typeof paymentWorkflow> {
  return temporal.workflow.getHandle<typeof paymentWorkflow>(paymentWorkflowId(paymentId));
}
