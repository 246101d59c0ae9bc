// The reconciliation run a Temporal Schedule starts: the scheduled scan of the article, kept as the net under the
// per-payment workflows. `sweep` repairs orphaned payments and unacknowledged notifications (every few minutes);
// `statement` compares each channel's statement with our table (daily).
import { setCurrentDetails } from '@temporalio/workflow';
import type { NotifyResult, StatementResult, SweepResult } from '../activities/reconcile';
import { reconcile } from './activity-options';

export type ReconcileInput =
  | { task: 'sweep'; minAgeMs: number; limit?: number }
  | { task: 'statement'; channels: string[]; lookbackMs: number };

export interface ReconcileResult {
  sweep?: { orphans: SweepResult; unacknowledged: NotifyResult };
  statements?: StatementResult[];
}

export async function reconcileWorkflow(input: ReconcileInput): Promise<ReconcileResult> {
  if (input.task === 'sweep') {
    const limit = input.limit ?? 500;
    setCurrentDetails('Looking for payments without a running workflow');
    const orphans = await reconcile.repairOrphans({ minAgeMs: input.minAgeMs, limit });
    setCurrentDetails('Looking for final payments the order service never acknowledged');
    const unacknowledged = await reconcile.repairUnacknowledged({ minAgeMs: input.minAgeMs, limit });
    setCurrentDetails(
      `Restarted ${orphans.restarted.length}, nudged ${orphans.nudged.length}, notified ${unacknowledged.notified.length}`,
    );
    return { sweep: { orphans, unacknowledged } };
  }
  const statements: StatementResult[] = [];
  for (const channel of input.channels) {
    setCurrentDetails(`Comparing the ${channel} statement with our payments`);
    statements.push(await reconcile.reconcileStatement({ channel, lookbackMs: input.lookbackMs }));
  }
  return { statements };
}
