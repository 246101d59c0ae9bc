// Recorded workflow histories, replayed by test/workflow/replay.test.ts against today's workflow code.
//   test/histories/current/           every payment-workflow scenario (test/workflow/payment-*.test.ts), recorded from
//                                     the code as it is now: re-record them after changing a workflow (nothing in
//                                     them has to stay replayable before a release);
//   test/histories/releases/<tag>/    a copy of current/ made when release <tag> was tagged: payments started by that
//                                     release may still be running, so today's code must replay them (patched()).
// Record with: rm -rf test/histories/current && RECORD_HISTORIES=1 npx jest test/workflow/payment-
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { refundWorkflowId } from '../../workflows/definitions';
import type { StartedPayment } from './payment-harness';

export const HISTORIES_ROOT = join(__dirname, '..', 'histories');
export const CURRENT_HISTORIES = join(HISTORIES_ROOT, 'current');
export const RELEASE_HISTORIES = join(HISTORIES_ROOT, 'releases');

/** The scenario id at the start of a test's name: "... 12a. a success reported ..." -> "12a". */
export const SCENARIO_ID = /(?:^|\s)(\d+[a-z]?)\. (.*)$/;

/**
 * With RECORD_HISTORIES=1, writes the histories of a test's payments (and of their refunds, if any) to
 * test/histories/current/<id>-<words>[-<n>][-refund].json. Call it in afterEach with the test's name.
 */
export async function recordHistories(testName: string | undefined, payments: StartedPayment[]): Promise<void> {
  if (!process.env.RECORD_HISTORIES || !testName || payments.length === 0) return;
  const match = SCENARIO_ID.exec(testName);
  if (!match) return;
  const slug = match[2]!
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .slice(0, 6)
    .join('-');
  mkdirSync(CURRENT_HISTORIES, { recursive: true });
  for (const [i, p] of payments.entries()) {
    const base = `${match[1]}-${slug}${payments.length > 1 ? `-${i + 1}` : ''}`;
    writeFileSync(join(CURRENT_HISTORIES, `${base}.json`), historyToJSON(await p.handle.fetchHistory()));
    const refund = p.handle.client.getHandle(refundWorkflowId(p.paymentId));
    const hasRefund = await refund.describe().then(
      () => true,
      (err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      },
    );
    if (hasRefund) {
      writeFileSync(join(CURRENT_HISTORIES, `${base}-refund.json`), historyToJSON(await refund.fetchHistory()));
    }
  }
}
