// Watching a launcher's processes from outside (the npm start tests): its process tree, each process identified by
// pid and start time, and polling helpers that do not leave timers behind.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessState } from '../../scripts/stack/supervisor';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The promise's value, or `fallback` after `ms` (the timer does not outlive it: jest exits promptly). */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The launcher's state file (.data/stack.json). */
export interface StackState {
  launcherPid: number;
  processes: Record<string, ProcessState>;
}

/** The launcher and every process under it, by pid (ps reads the whole table once). */
export function processTree(rootPid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of table) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree;
}

/**
 * A process by pid and start time (field 22 of /proc/<pid>/stat), so that a pid the kernel hands out again later is
 * not mistaken for one of ours (and never killed by mistake).
 */
export interface ProcessId {
  pid: number;
  startTime: string;
}

function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' '); // [0] is field 3 (state)
  } catch {
    return undefined;
  }
}

export function identify(pid: number): ProcessId | undefined {
  const fields = stat(pid);
  return fields ? { pid, startTime: fields[19]! } : undefined;
}

/** Still there, and not a zombie (an exited process whose new parent has not reaped it yet is gone for us). */
export function running(p: ProcessId): boolean {
  const fields = stat(p.pid);
  return fields !== undefined && fields[19] === p.startTime && fields[0] !== 'Z';
}

/** Polls until `check` gives a value; an error marked `fatal` ends the wait at once, others count as "not yet". */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch((err: unknown) => {
      if ((err as { fatal?: boolean }).fatal) throw err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `npm start` (scripts/start.ts) as a child, as a test drives it. */
export interface Launched {
  launcher: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Its own `[start]` lines, timestamped. */
  said: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts scripts/start.ts with `args`, nothing of the test run's configuration but `env` (and the prebuilt workflow
 * bundle, which only spares the worker a bundling), and resolves once its banner is printed.
 */
export async function launchNpmStart(
  root: string,
  args: string[],
  env: Record<string, string>,
  configVariables: readonly string[],
  bannerTimeoutMs: number,
): Promise<Launched> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of configVariables) if (name !== 'WORKFLOW_BUNDLE_PATH') delete childEnv[name];
  Object.assign(childEnv, env);
  const launcher = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'start.ts'), ...args], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const said: string[] = [];
  launcher.stdout!.on('data', (b: Buffer) => {
    output += b.toString();
    const now = new Date().toISOString().slice(11, 23);
    for (const line of b.toString().split('\n')) if (line.startsWith('[start]')) said.push(`${now} ${line}`);
  });
  launcher.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    launcher.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await until(
    'the banner',
    async () => {
      if (launcher.exitCode !== null) throw Object.assign(new Error(`npm start exited:\n${output}`), { fatal: true });
      return output.includes('Payment orchestration is up') ? true : undefined;
    },
    bannerTimeoutMs,
  ).catch((err: Error) => {
    launcher.kill('SIGINT');
    throw new Error(`${err.message}\n--- npm start output ---\n${output.slice(-5000)}`);
  });
  return { launcher, output: () => output, said, exited };
}
