// The reconciliation schedules, created idempotently at worker start-up: created when missing, brought in line
// with the configuration when present (a changed interval takes effect on the next start).
import { type Client, ScheduleAlreadyRunning, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Config } from '../config';
import type { ReconcileInput, reconcileWorkflow } from '../workflows/reconcile';

/** One pair of schedules per deployment (task queue), so deployments sharing a namespace do not collide. */
export const sweepScheduleId = (taskQueue: string) => `reconcile-sweep-${taskQueue}`;
export const statementScheduleId = (taskQueue: string) => `reconcile-statement-${taskQueue}`;

interface Wanted {
  scheduleId: string;
  everyMs: number;
  input: ReconcileInput;
  note: string;
}

export async function ensureReconcileSchedules(
  temporal: Client,
  config: Pick<Config, 'temporal' | 'reconcile'>,
  channels: string[],
): Promise<string[]> {
  const wanted: Wanted[] = [
    {
      scheduleId: sweepScheduleId(config.temporal.taskQueue),
      everyMs: config.reconcile.intervalMs,
      input: { task: 'sweep', minAgeMs: config.reconcile.minAgeMs },
      note: 'Restarts payments without a running workflow; notifies unacknowledged final payments',
    },
    {
      scheduleId: statementScheduleId(config.temporal.taskQueue),
      everyMs: config.reconcile.statementIntervalMs,
      input: { task: 'statement', channels, lookbackMs: config.reconcile.statementLookbackMs },
      note: "Compares each channel's statement with our payments",
    },
  ];
  const done: string[] = [];
  for (const w of wanted) {
    const action: ScheduleOptionsStartWorkflowAction<typeof reconcileWorkflow> = {
      type: 'startWorkflow',
      workflowType: 'reconcileWorkflow',
      workflowId: w.scheduleId,
      taskQueue: config.temporal.taskQueue,
      args: [w.input],
    };
    const spec = { intervals: [{ every: w.everyMs }] };
    const policies = { overlap: 'SKIP' as const, catchupWindow: 60_000 };
    try {
      await temporal.schedule.create({ scheduleId: w.scheduleId, spec, action, policies, state: { note: w.note } });
      done.push(`${w.scheduleId} created`);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await temporal.schedule.getHandle(w.scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
      done.push(`${w.scheduleId} updated`);
    }
  }
  return done;
}
