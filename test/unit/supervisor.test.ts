// The Supervisor on throwaway node processes: restart with a growing backoff, give up on a process that keeps
// dying at once, never restart during a shutdown, stop in reverse start order.
import { type ChildProcess, spawn } from 'node:child_process';
import { type ChildSpec, Supervisor } from '../../scripts/stack/supervisor';

function nodeChild(name: string, script: string, started: ChildProcess[]): ChildSpec {
  return {
    name,
    spawn: ({ output }) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (b: Buffer) => output(b.toString().trim(), 'stdout'));
      started.push(child);
      return child;
    },
  };
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('Supervisor', () => {
  // Whatever a failed test leaves running is killed, so that jest can exit.
  const supervisors: Supervisor[] = [];
  const track = (supervisor: Supervisor) => (supervisors.push(supervisor), supervisor);
  afterEach(() => supervisors.splice(0).forEach((s) => s.killAllNow()));

  it('restarts a process that dies, backing off while it keeps dying fast, then gives up', async () => {
    const logs: string[] = [];
    const gaveUp: string[] = [];
    const started: ChildProcess[] = [];
    const supervisor = track(
      new Supervisor((m) => logs.push(m), {
        restartDelayMs: 100,
        stableAfterMs: 5000,
        maxFastFailures: 3,
        onGiveUp: (name) => gaveUp.push(name),
      }),
    );
    await supervisor.start(nodeChild('flaky', 'setTimeout(() => process.exit(3), 30)', started));
    await until('the give-up', () => gaveUp.length > 0);

    expect(gaveUp).toEqual(['flaky']);
    expect(started).toHaveLength(3); // the first start and two restarts
    expect(logs[0]).toMatch(
      /^flaky \(pid \d+\) exited unexpectedly with code 3 after [\d.]+ m?s; restart #1 in 100 ms$/,
    );
    expect(logs[1]).toMatch(/^flaky is back \(pid \d+, restart #1\)$/);
    expect(logs[2]).toMatch(/exited unexpectedly with code 3 .*; restart #2 in 200 ms, 2 fast failures in a row$/);
    expect(logs[4]).toMatch(
      /exited unexpectedly with code 3 .*; giving up on it: it died within 5 s of starting 3 times/,
    );
    expect(supervisor.snapshot().flaky).toEqual({ pid: null, restarts: 2, state: 'gave up' });
    await sleep(300);
    expect(started).toHaveLength(3); // and it stays given up
    await supervisor.stopAll();
  });

  it('restarts a process killed by a signal, and starts the backoff over after a stable run', async () => {
    const logs: string[] = [];
    const started: ChildProcess[] = [];
    const supervisor = track(new Supervisor((m) => logs.push(m), { restartDelayMs: 100, stableAfterMs: 400 }));
    await supervisor.start(nodeChild('steady', 'setInterval(() => {}, 1000)', started));
    for (const [n, upMs] of [
      [1, 0], // fast failures: 0.1 s, then 0.2 s
      [2, 0],
      [3, 500], // up longer than stableAfterMs: back to 0.1 s
    ]) {
      await sleep(upMs!);
      supervisor.process('steady')!.kill('SIGKILL');
      await until(
        `restart #${n}`,
        () => started.length === n! + 1 && supervisor.snapshot().steady!.state === 'running',
      );
    }
    expect(logs.filter((l) => l.includes('exited unexpectedly'))).toEqual([
      expect.stringMatching(
        /^steady \(pid \d+\) exited unexpectedly with signal SIGKILL after [\d.]+ m?s; restart #1 in 100 ms$/,
      ),
      expect.stringMatching(/with signal SIGKILL .*; restart #2 in 200 ms, 2 fast failures in a row$/),
      expect.stringMatching(/with signal SIGKILL .*; restart #3 in 100 ms$/),
    ]);
    await supervisor.stopAll();
    expect(started.filter(alive)).toEqual([]);
  });

  it('stops in reverse start order and restarts nothing during or after the shutdown', async () => {
    const started: ChildProcess[] = [];
    const exits: string[] = [];
    const supervisor = track(new Supervisor(() => undefined, { restartDelayMs: 10 }));
    // "slow" takes a moment to stop (as PostgreSQL does): "fast", started after it, must already be gone by then.
    const slow = `process.on('SIGTERM', () => setTimeout(() => process.exit(0), 200)); setInterval(() => {}, 1000)`;
    for (const [name, script] of [
      ['first', slow],
      ['second', 'setInterval(() => {}, 1000)'],
    ] as const) {
      await supervisor.start(nodeChild(name, script, started));
      const child = started[started.length - 1]!;
      child.once('exit', () => exits.push(name));
    }
    await supervisor.stopAll(5000);
    expect(exits).toEqual(['second', 'first']);
    await sleep(100);
    expect(started).toHaveLength(2);
    expect(started.filter(alive)).toEqual([]);
    expect(Object.values(supervisor.snapshot()).map((s) => s.state)).toEqual(['stopped', 'stopped']);
  });

  it('stops a process that is still starting when the shutdown begins, and a restart asked for is no failure', async () => {
    const logs: string[] = [];
    const started: ChildProcess[] = [];
    const supervisor = track(new Supervisor((m) => logs.push(m), { restartDelayMs: 10 }));
    const slowToStart: ChildSpec = {
      name: 'slow',
      spawn: async ({ spawned }) => {
        const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        started.push(child);
        spawned(child);
        await sleep(300); // "waiting until it answers"
        if (!alive(child)) throw new Error('it died while starting');
        return child;
      },
    };
    await supervisor.start(slowToStart);
    await supervisor.restart('slow', 10);
    expect(started).toHaveLength(2);
    expect(logs).toEqual([
      expect.stringMatching(/^slow restarted as asked \(pid \d+, ready [\d.]+ m?s after starting\)$/),
    ]);
    expect(supervisor.snapshot().slow).toMatchObject({ restarts: 0, state: 'running' });

    supervisor.process('slow')!.kill('SIGKILL');
    await until('the restart to be under way', () => started.length === 3);
    expect(supervisor.snapshot().slow!.state).toBe('starting');
    await supervisor.stopAll(5000);
    await sleep(100);
    expect(started).toHaveLength(3);
    expect(started.filter(alive)).toEqual([]);
    expect(supervisor.snapshot().slow!.state).toBe('stopped');
  });

  it('rejects a first start that never becomes ready, leaving nothing behind', async () => {
    const started: ChildProcess[] = [];
    const supervisor = track(new Supervisor(() => undefined));
    const never: ChildSpec = {
      name: 'never',
      spawn: async ({ spawned }) => {
        const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        started.push(child);
        spawned(child);
        await sleep(50);
        throw new Error('not listening');
      },
    };
    await expect(supervisor.start(never)).rejects.toThrow('never did not start: not listening');
    await until('the half-started process to go', () => !alive(started[0]!));
    await supervisor.stopAll();
  });
});
