// Runs the stack's Node services as child processes: output prefixed with the service name, restarted if one
// dies unexpectedly, stopped in order on shutdown. Children get their own process group, so a Ctrl-C reaches
// only the launcher, which then stops them in the right order (API and worker before the database and Temporal).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ServiceSpec {
  name: string;
  /** A TypeScript entry file, run with tsx. */
  entry: string;
  env: NodeJS.ProcessEnv;
}

const COLORS = [36, 35, 33, 32, 34, 31];

export function prefixLines(
  name: string,
  color: number,
  stream: NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
): void {
  const tag = process.stdout.isTTY ? `\x1b[${color}m${name.padEnd(9)}\x1b[0m|` : `${name.padEnd(9)}|`;
  createInterface({ input: stream }).on('line', (line) => out.write(`${tag} ${line}\n`));
}

export interface SupervisorOptions {
  /** Write each service's output to <logDir>/<name>.log instead of the terminal. */
  logDir?: string;
  restartDelayMs?: number;
}

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  /** Unexpected exits seen (and restarted), per service. */
  readonly restarts = new Map<string, number>();

  constructor(
    private readonly log: (msg: string) => void,
    private readonly options: SupervisorOptions = {},
  ) {}

  /** The running process of a service, e.g. to kill it on purpose. */
  process(name: string): ChildProcess | undefined {
    return this.children.get(name);
  }

  start(spec: ServiceSpec): void {
    const color = COLORS[this.children.size % COLORS.length] ?? 36;
    const child = spawn(process.execPath, ['--import', 'tsx', spec.entry], {
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.children.set(spec.name, child);
    if (this.options.logDir) {
      const file = createWriteStream(join(this.options.logDir, `${spec.name}.log`), { flags: 'a' });
      child.stdout!.pipe(file, { end: false });
      child.stderr!.pipe(file, { end: false });
    } else {
      prefixLines(spec.name, color, child.stdout!, process.stdout);
      prefixLines(spec.name, color, child.stderr!, process.stderr);
    }
    const delay = this.options.restartDelayMs ?? 2000;
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      this.restarts.set(spec.name, (this.restarts.get(spec.name) ?? 0) + 1);
      this.log(`${spec.name} exited (${signal ?? code}); restarting it in ${delay / 1000} s`);
      setTimeout(() => {
        if (!this.stopping) this.start(spec);
      }, delay);
    });
  }

  /** Sends SIGTERM to each service (in reverse start order) and waits; SIGKILL after the grace period. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    for (const [name, child] of [...this.children.entries()].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.log(`${name} did not stop within ${graceMs} ms; killing it`);
        child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Last resort on an unexpected launcher exit: no orphans left holding ports. */
  killAllNow(): void {
    for (const child of this.children.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}
