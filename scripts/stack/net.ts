import { createServer } from 'node:net';

/**
 * Ports we hand out come from below Linux's ephemeral range (32768–60999). A port the OS picked for `listen(0)` and
 * that we released is back in the pool the kernel draws from for every outgoing connection, so another process's
 * connection could take it before our server binds it (CI saw `EADDRINUSE` that way). Below 32768 only our own
 * choices compete: each jest worker draws from a slice of its own, and this process never hands out a port twice.
 * (Temporal's membership ports must be below 32768 too: the server stores them as a smallint.)
 */
const LOW = 10_000;
const SLICE = 2_000;
const SLICES = 11; // 10000–31999
const handedOut = new Set<number>();

function slice(): number {
  const worker = Number(process.env.JEST_WORKER_ID ?? 0);
  return Number.isInteger(worker) && worker > 0 ? worker % SLICES : 0;
}

/** Can a server listen on this port of 127.0.0.1 now? */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago and that the kernel will not give to an outgoing connection. */
export async function freePort(): Promise<number> {
  const base = LOW + slice() * SLICE;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = base + Math.floor(Math.random() * SLICE);
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${base} and ${base + SLICE - 1}`);
}

/** A port p such that p + each offset is free too (a launcher that lays its ports out around one it is given). */
export async function freePortWith(offsets: number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    const others = offsets.map((o) => port + o);
    if (others.every((p) => p > 1024 && p < 65536 && !handedOut.has(p))) {
      const free = await Promise.all(others.map(canBind));
      if (free.every(Boolean)) {
        for (const p of others) handedOut.add(p);
        return port;
      }
    }
  }
  throw new Error(`no free port with ${offsets.join(', ')} beside it`);
}
/** Polls `check` until it resolves, or fails with the last error after `timeoutMs` (at once on a `fatal` error). */
export async function waitFor(
  what: string,
  check: () => Promise<unknown>,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await check();
      return;
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) throw err;
      lastError = err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
  throw new Error(
    `${what} was not ready after ${timeoutMs} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
  );
}
