// A server process of the stack started and waited for: its output forwarded line by line (the last lines kept for
// the error if it dies while starting), ready once `ready` passes, killed if it never is; stopped with SIGTERM,
// then SIGKILL after a grace period. The Temporal dev server and localstripe start this way.
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { waitFor } from './net';

export interface ReadyChildOptions {
  /** What is starting, for the error (e.g. "localstripe on http://127.0.0.1:3103"). */
  what: string;
  command: string;
  args: string[];
  env?: SpawnOptions['env'];
  /** Its own process group (a supervisor's child: a terminal's Ctrl-C reaches only the launcher). */
  detached?: boolean;
  onSpawn?: (child: ChildProcess) => void;
  onOutput?: (line: string) => void;
  /** Resolves once it serves; retried until `timeoutMs`. */
  ready: () => Promise<unknown>;
  timeoutMs?: number;
  everyMs?: number;
  /** How long SIGTERM may take before SIGKILL. */
  stopGraceMs: number;
}

export interface ReadyChild {
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startReadyChild(options: ReadyChildOptions): Promise<ReadyChild> {
  const child = spawn(options.command, options.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
    ...(options.env ? { env: options.env } : {}),
  });
  options.onSpawn?.(child);
  let exited: string | undefined;
  const tail: string[] = [];
  const onLine = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 50) tail.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', onLine);
  child.stderr?.on('data', onLine);
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    }),
  );
  try {
    await waitFor(
      options.what,
      async () => {
        if (exited) throw Object.assign(new Error(`${exited}: ${tail.slice(-10).join('\n')}`), { fatal: true });
        await options.ready();
      },
      options.timeoutMs,
      options.everyMs,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    process: child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), options.stopGraceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
