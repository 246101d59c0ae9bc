// Workflow time. Inside the workflow sandbox, Date is replaced by Temporal with a deterministic clock (the time
// of the current workflow task, replayed identically; virtual time on the time-skipping test server). This is the
// one place workflow code reads it, so the lint rule against Date.now() holds everywhere else in workflows/.
/** ms since the epoch as an ISO timestamp, e.g. for a decision's time or the next check in the Web UI. */
export const iso = (ms: number): string => new Date(ms).toISOString();

export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-properties -- deterministic inside the workflow sandbox (see above)
  return Date.now();
}
