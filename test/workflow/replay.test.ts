// Recorded histories of the main paths (RECORD_HISTORIES=1 npx jest test/workflow/payment-paths writes them) are
// replayed against today's workflow code: a change that would break running payments fails here, and needs a
// patched() branch instead.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundlePath } from '../support/env';

const dir = join(__dirname, '..', 'histories');

describe('replaying recorded payment histories', () => {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has the histories of scenarios 1 to 5', () => {
    expect(files.map((f) => f.split('-')[0])).toEqual(['1', '2', '3', '4', '5']);
  });

  it('replays every one of them without nondeterminism', async () => {
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(dir, f), 'utf8'))),
    }));
    const results = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: workflowBundlePath() } },
      histories,
    )) {
      results.push(result);
    }
    expect(results.map((r) => ({ id: r.workflowId, error: r.error?.message }))).toEqual(
      histories.map((h) => ({ id: h.workflowId, error: undefined })),
    );
  });
});
