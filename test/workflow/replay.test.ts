// Recorded histories are replayed against today's workflow code: a change that would break a workflow already
// running fails here. current/ holds every payment-workflow scenario as the code records it now (re-recorded
// freely before a release); releases/<tag>/ holds what each tagged release recorded, and today's code must replay
// those too, behind patched() where it changed. See test/support/histories.ts and the README (Contributing).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { testDataConverter, workflowBundlePath } from '../support/env';
import { CURRENT_HISTORIES, RELEASE_HISTORIES } from '../support/histories';

const jsonFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

/** The scenario ids of the payment-workflow tests ("1", "8a", ...), read from the test files themselves. */
function scenarioIds(): string[] {
  const ids = new Set<string>();
  for (const file of readdirSync(__dirname).filter((f) => /^payment-.*\.test\.ts$/.test(f))) {
    for (const m of readFileSync(join(__dirname, file), 'utf8').matchAll(/\bit\('(\d+[a-z]?)\. /g)) ids.add(m[1]!);
  }
  return [...ids];
}

/**
 * Release tags of this repository (v1.2.3); none before the first release. Not being able to ask git fails the test
 * rather than passing it: a release without its histories must not slip through unseen.
 */
function releaseTags(): string[] {
  return execFileSync('git', ['tag', '--list', 'v*'], { cwd: __dirname, encoding: 'utf8' }).split('\n').filter(Boolean);
}

async function replayAll(dir: string): Promise<{ id: string; error: string | undefined }[]> {
  const histories = jsonFiles(dir).map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(readFileSync(join(dir, f), 'utf8'))),
  }));
  const results = [];
  // With the codec: the histories were recorded encrypted, as production writes them (a payload in clear passes).
  const options = { workflowBundle: { codePath: workflowBundlePath() }, dataConverter: testDataConverter() };
  for await (const r of Worker.runReplayHistories(options, histories)) {
    results.push({ id: r.workflowId, error: r.error?.message });
  }
  return results.sort((a, b) => a.id.localeCompare(b.id));
}

describe('replaying the histories recorded from the current workflow code', () => {
  it('has a recorded history for every payment-workflow scenario', () => {
    const recorded = new Set(jsonFiles(CURRENT_HISTORIES).map((f) => f.split('-')[0]));
    const ids = scenarioIds();
    expect(ids.length).toBeGreaterThanOrEqual(17);
    expect(ids.filter((id) => !recorded.has(id))).toEqual([]);
  });

  it('replays every one of them without nondeterminism', async () => {
    const results = await replayAll(CURRENT_HISTORIES);
    expect(results.length).toBeGreaterThanOrEqual(17);
    expect(results.filter((r) => r.error)).toEqual([]);
  });
});

describe('replaying the histories of every tagged release', () => {
  const tags = releaseTags();

  it('has the recorded histories of each release tag', () => {
    expect(tags.filter((tag) => !existsSync(join(RELEASE_HISTORIES, tag)))).toEqual([]);
  });

  // Before the first release there is nothing to stay compatible with; each release adds a directory here.
  const releases = existsSync(RELEASE_HISTORIES) ? readdirSync(RELEASE_HISTORIES).sort() : [];
  if (releases.length === 0) return;
  it.each(releases)('replays release %s', async (release) => {
    const results = await replayAll(join(RELEASE_HISTORIES, release));
    expect(results.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.error)).toEqual([]);
  });
});
