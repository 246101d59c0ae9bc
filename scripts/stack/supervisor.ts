// Supervises the processes a stack launcher owns (the Temporal dev server, PostgreSQL, the sandbox, worker and
// API): each is started by a spawn function, its output is prefixed with its name (or written to a log file), and
// when it exits without being asked to it is started again, after a backoff that doubles while it keeps dying soon
// after starting; after too many such failures in a row the supervisor gives up on it and says so, rather than
// spinning. stopAll() stops them in reverse start order (services before the database and Temporal), with no
// restart once it has begun. Children get their own process group, so a terminal's Ctrl-C reaches only the
// launcher, which then stops them in that order.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** What a spawn function gets from the supervisor. */
export interface SpawnContext {
  /**
   * Where the child's output goes, one line at a time: the terminal (stdout or stderr) with the process's name as a
   * prefix, or its log file.
   */
  output: (line: string, stream?: 'stdout' | 'stderr') => void;
  /**
   * Call with the process as soon as it exists, before waiting for it to be ready: a shutdown (or its death) while
   * it is still starting is then handled too. Optional when the spawn function returns it at once.
   */
  spawned: (child: ChildProcess) => void;
}

export interface ChildSpec {
  name: string;
  /** Starts the process; resolves with it once it is ready to serve (rejects if it never becomes ready). */
  spawn: (ctx: SpawnContext) => ChildProcess | Promise<ChildProcess>;
  /** How to ask it to stop; default SIGTERM (PostgreSQL: SIGINT, its fast shutdown). */
  stopSignal?: NodeJS.Signals;
}

/** The stack's Node services: a TypeScript entry file run with tsx. */
export interface ServiceSpec {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
}

/** A ChildSpec for a TypeScript entry file run with `node --import tsx`, ready as soon as it runs. */
export function tsxService({ name, entry, env }: ServiceSpec): ChildSpec {
  return {
    name,
    spawn: ({ output }) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      forwardLines(child.stdout!, (line) => output(line, 'stdout'));
      forwardLines(child.stderr!, (line) => output(line, 'stderr'));
      return child;
    },
  };
}

export function forwardLines(stream: NodeJS.ReadableStream, to: (line: string) => void): void {
  createInterface({ input: stream }).on('line', to);
}

const COLORS = [36, 35, 33, 32, 34, 31];

export function prefixLines(
  name: string,
  color: number,
  stream: NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
): void {
  const tag = prefixTag(name, color);
  forwardLines(stream, (line) => out.write(`${tag} ${line}\n`));
}

/** Wide enough for the longest name the launchers use (localstripe), so the lines stay aligned. */
const TAG_WIDTH = 11;

function prefixTag(name: string, color: number): string {
  const padded = name.padEnd(TAG_WIDTH);
  return process.stdout.isTTY ? `\x1b[${color}m${padded}\x1b[0m|` : `${padded}|`;
}

export interface SupervisorOptions {
  /** Write each service's output to <logDir>/<name>.log instead of the terminal. */
  logDir?: string;
  /**
   * How a line of a service's output is shown on the terminal, before its name is put in front (undefined hides it);
   * default: as it is. Not applied to log files.
   */
  format?: (name: string, line: string) => string | undefined;
  /** Wait before restarting a process; doubles with each further fast failure in a row. Default 1 s. */
  restartDelayMs?: number;
  /** The backoff's ceiling. Default 30 s. */
  maxRestartDelayMs?: number;
  /** A process that dies sooner than this after being started counts as a fast failure. Default 10 s. */
  stableAfterMs?: number;
  /** Give up on a process after this many fast failures in a row. Default 5. */
  maxFastFailures?: number;
  /** Called once the supervisor has given up on a process (after logging it); e.g. stop the whole stack. */
  onGiveUp?: (name: string) => void;
  /**
   * Keep a JSON file of the launcher's pid and each process's current pid and state (for tests and operators);
   * removed by stopAll().
   */
  stateFile?: string;
}

export interface ProcessState {
  pid: number | null;
  /** Restarts after unexpected exits so far. */
  restarts: number;
  state: 'starting' | 'running' | 'waiting to restart' | 'gave up' | 'stopped';
}

interface Supervised {
  spec: ChildSpec;
  output: SpawnContext['output'];
  child?: ChildProcess;
  state: ProcessState['state'];
  /** Consecutive exits each within stableAfterMs of their start. */
  fastFailures: number;
  timer?: NodeJS.Timeout;
  launching?: Promise<unknown>;
}

type Outcome = { ok: true } | { ok: false; why: string };

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** 40 ms, 1.2 s, 30 s */
function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${ms < 10_000 ? (ms / 1000).toFixed(1).replace(/\.0$/, '') : Math.round(ms / 1000)} s`;
}

export class Supervisor {
  private readonly services = new Map<string, Supervised>();
  private readonly logFiles: WriteStream[] = [];
  private stopping = false;
  private wroteState = false;
  /** Unexpected exits seen (and restarted), per process. */
  readonly restarts = new Map<string, number>();

  constructor(
    private readonly log: (msg: string) => void,
    private readonly options: SupervisorOptions = {},
  ) {}

  /** The current process of a service, e.g. to kill it on purpose. */
  process(name: string): ChildProcess | undefined {
    return this.services.get(name)?.child;
  }

  /** Where each process stands (also written to the state file). */
  snapshot(): Record<string, ProcessState> {
    return Object.fromEntries(
      [...this.services.entries()].map(([name, s]) => [
        name,
        { pid: s.child?.pid ?? null, restarts: this.restarts.get(name) ?? 0, state: s.state },
      ]),
    );
  }

  /**
   * Starts a process and resolves once it is ready; from then on it is restarted whenever it exits unexpectedly.
   * A first start that fails rejects (and is not retried): the launcher reports it and stops.
   */
  async start(spec: ChildSpec): Promise<void> {
    if (this.services.has(spec.name)) throw new Error(`${spec.name} is already supervised`);
    const color = COLORS[this.services.size % COLORS.length] ?? 36;
    const svc: Supervised = {
      spec,
      output: this.outputFor(spec.name, color),
      state: 'starting',
      fastFailures: 0,
    };
    this.services.set(spec.name, svc);
    this.restarts.set(spec.name, 0);
    const outcome = await this.launch(svc, 'first');
    if (outcome.ok) return;
    svc.state = 'stopped';
    this.writeState();
    throw new Error(`${spec.name} did not start: ${outcome.why}`);
  }

  /**
   * Stops a process on purpose and starts it again after `downMs` (e.g. the chaos run restarting Temporal); not
   * counted as a failure. Resolves once it is ready again.
   */
  async restart(name: string, downMs = 0, graceMs = 15_000): Promise<void> {
    const { svc, child } = await this.detach(name);
    if (child) await this.stopChild(name, child, svc.spec.stopSignal, graceMs);
    await new Promise((r) => setTimeout(r, downMs));
    if (this.stopping) return;
    svc.fastFailures = 0;
    svc.state = 'starting';
    await this.launch(svc, 'asked');
  }

  /**
   * Kills a process for good (a machine lost, in a chaos run): it is sent `signal` and not started again. Resolves
   * once it has exited.
   */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const { child } = await this.detach(name);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      await exited;
    }
  }

  /** Takes a process out of supervision for a stop asked for: its exit then restarts nothing. */
  private async detach(name: string): Promise<{ svc: Supervised; child: ChildProcess | undefined }> {
    const svc = this.services.get(name);
    if (!svc) throw new Error(`${name} is not supervised`);
    await svc.launching?.catch(() => undefined);
    clearTimeout(svc.timer);
    const child = svc.child;
    svc.child = undefined; // its exit is expected: no restart from the exit handler
    svc.state = 'stopped';
    this.writeState();
    return { svc, child };
  }

  /** Sends each process its stop signal (in reverse start order) and waits; SIGKILL after the grace period. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    for (const svc of this.services.values()) clearTimeout(svc.timer);
    for (const [name, svc] of [...this.services.entries()].reverse()) {
      if (svc.state === 'starting') {
        // A start in flight: its process (if it has one yet) is told to stop, and the start settles.
        svc.child?.kill(svc.spec.stopSignal ?? 'SIGTERM');
        await svc.launching?.catch(() => undefined);
      }
      const child = svc.child;
      if (child) await this.stopChild(name, child, svc.spec.stopSignal, graceMs);
      svc.state = 'stopped';
      this.writeState();
    }
    for (const file of this.logFiles) file.end();
    // Nothing runs any more. (Only a file this supervisor wrote: a second launcher that failed to start, say on a
    // busy port, must not remove the state of the one that is running.)
    if (this.options.stateFile && this.wroteState) rmSync(this.options.stateFile, { force: true });
  }

  /** Last resort on an unexpected launcher exit: no orphans left holding ports. */
  killAllNow(): void {
    this.stopping = true;
    for (const svc of this.services.values()) {
      clearTimeout(svc.timer);
      const child = svc.child;
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }

  private outputFor(name: string, color: number): SpawnContext['output'] {
    if (!this.options.logDir) {
      const tag = prefixTag(name, color);
      const format = this.options.format;
      return (line, stream = 'stderr') => {
        const shown = format ? format(name, line) : line;
        if (shown !== undefined) (stream === 'stdout' ? process.stdout : process.stderr).write(`${tag} ${shown}\n`);
      };
    }
    const file = createWriteStream(join(this.options.logDir, `${name}.log`), { flags: 'a' });
    this.logFiles.push(file);
    return (line) => file.write(`${line}\n`);
  }

  /** One start of a process (the first, a restart after a failure, or one asked for); see launchOnce. */
  private launch(svc: Supervised, kind: 'first' | 'recovery' | 'asked'): Promise<Outcome> {
    const launching = this.launchOnce(svc, kind);
    svc.launching = launching;
    return launching;
  }

  /** Spawn it, watch it, wait until it is ready (or dead). */
  private async launchOnce(svc: Supervised, kind: 'first' | 'recovery' | 'asked'): Promise<Outcome> {
    const { name } = svc.spec;
    const startedAt = Date.now();
    let child: ChildProcess | undefined;
    let ready = false;
    let died: (why: string) => void = () => undefined;
    const diedEarly = new Promise<string>((resolve) => (died = resolve));
    const spawned = (c: ChildProcess) => {
      if (child) return;
      child = c;
      svc.child = c;
      c.once('error', (err) => svc.output(`could not run: ${err.message}`));
      c.once('exit', (code, signal) => {
        if (svc.child !== c) return; // stopped or replaced on purpose
        svc.child = undefined;
        if (!ready) {
          died(`exited with ${describeExit(code, signal)} before it was ready`);
          return;
        }
        if (this.stopping) return;
        this.failed(
          svc,
          `(pid ${c.pid}) exited unexpectedly with ${describeExit(code, signal)}`,
          Date.now() - startedAt,
        );
      });
      if (this.stopping) c.kill('SIGKILL');
      this.writeState();
    };

    const starting = Promise.resolve().then(() => svc.spec.spawn({ output: svc.output, spawned }));
    let outcome: Outcome;
    try {
      const result = await Promise.race([starting, diedEarly.then((why) => Promise.reject(new Error(why)))]);
      spawned(result);
      if (svc.child !== result) {
        // It died between being ready and now (its exit was not yet seen as "running").
        outcome = { ok: false, why: 'exited as it became ready' };
      } else {
        ready = true;
        outcome = { ok: true };
      }
    } catch (err) {
      outcome = { ok: false, why: err instanceof Error ? err.message : String(err) };
      starting.catch(() => undefined);
      // Whatever it left running (a start that timed out) goes: the next attempt starts clean.
      const c = child as ChildProcess | undefined;
      if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      if (svc.child === c) svc.child = undefined;
    }
    if (this.stopping) return outcome; // stopAll() stops what is left
    const tookMs = Date.now() - startedAt;
    const took = tookMs >= 100 ? `, ready ${seconds(tookMs)} after starting` : '';
    if (outcome.ok) {
      svc.state = 'running';
      if (kind === 'recovery')
        this.log(`${name} is back (pid ${svc.child?.pid}, restart #${this.restarts.get(name) ?? 0}${took})`);
      if (kind === 'asked') this.log(`${name} restarted as asked (pid ${svc.child?.pid}${took})`);
      this.writeState();
    } else if (kind !== 'first') {
      // A restart that never became ready counts as another fast failure (the caller of start() reports a first).
      this.failed(svc, `did not come back: ${outcome.why}`, Date.now() - startedAt);
    }
    return outcome;
  }

  /** After an unexpected exit (or a restart that failed): schedule the next start, or give up. */
  private failed(svc: Supervised, what: string, ranMs: number): void {
    const { name } = svc.spec;
    const stableAfterMs = this.options.stableAfterMs ?? 10_000;
    const maxFastFailures = this.options.maxFastFailures ?? 5;
    svc.fastFailures = ranMs < stableAfterMs ? svc.fastFailures + 1 : 0;
    const after = ranMs > 0 ? ` after ${seconds(ranMs)}` : '';
    if (svc.fastFailures >= maxFastFailures) {
      svc.state = 'gave up';
      this.writeState();
      this.log(
        `${name} ${what}${after}; giving up on it: it died within ${seconds(stableAfterMs)} of starting ` +
          `${svc.fastFailures} times in a row (see its output above)`,
      );
      this.options.onGiveUp?.(name);
      return;
    }
    const base = this.options.restartDelayMs ?? 1000;
    // The first restart comes soon; each further one in a row that died soon after starting waits twice as long.
    const delay = Math.min(this.options.maxRestartDelayMs ?? 30_000, base * 2 ** Math.max(0, svc.fastFailures - 1));
    const n = (this.restarts.get(name) ?? 0) + 1;
    this.restarts.set(name, n);
    svc.state = 'waiting to restart';
    this.writeState();
    const streak = svc.fastFailures > 1 ? `, ${svc.fastFailures} fast failures in a row` : '';
    this.log(`${name} ${what}${after}; restart #${n} in ${seconds(delay)}${streak}`);
    svc.timer = setTimeout(() => {
      if (this.stopping || svc.state !== 'waiting to restart') return;
      svc.state = 'starting';
      void this.launch(svc, 'recovery');
    }, delay);
  }

  private async stopChild(
    name: string,
    child: ChildProcess,
    signal: NodeJS.Signals = 'SIGTERM',
    graceMs: number,
  ): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => {
      this.log(`${name} did not stop within ${seconds(graceMs)}; killing it`);
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }

  private writeState(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const state = { launcherPid: process.pid, updatedAt: new Date().toISOString(), processes: this.snapshot() };
    try {
      writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
      renameSync(`${file}.tmp`, file);
      this.wroteState = true;
    } catch {
      // The state file is a convenience; supervision goes on without it.
    }
  }
}
