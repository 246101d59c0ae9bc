// Recorded histories of the main paths are replayed against today's workflow code: a change that would break
// payments already running fails here, and needs a patched() branch instead. One directory per generation of the
// workflow code (v1 before the LEANER_HISTORY patch, v2 after, v3 with LOCAL_FIRST_NOTIFY, v4 with LOCAL_QUERIES); RECORD_HISTORIES=1 npx jest
// test/workflow/payment-paths writes the current one. Old generations stay: payments in flight may have them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { workflowBundlePath } from '../support/env';
import { HISTORIES_ROOT } from '../support/histories';

const generations = readdirSync(HISTORIES_ROOT).sort();

describe.each(generations)('replaying recorded payment histories (%s)', (generation) => {
  const dir = join(HISTORIES_ROOT, generation);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has the histories of scenarios 1 to 5', () => {
    expect(files.map((f) => f.split('-')[0])).toEqual(['1', '2', '3', '4', '5']);
  });

  it('replays every one of them without nondeterminism', async () => {
    const histories = files.map((f) => ({
      workflowId: `${generation}-${f.replace(/\.json$/, '')}`,
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
