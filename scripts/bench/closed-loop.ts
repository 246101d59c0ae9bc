// Saturation by closed-loop load: N buyers, each making one payment after another (create, pay, wait until the order
// service has acknowledged it), so the system is offered exactly as much as it completes. N is raised until the
// completed payments/s stop rising; each level counts the payments acknowledged during a steady window after a
// warm-up. An open-loop rate search decides on one coarse step (offered 16/s: kept up or not); here every level gives
// a throughput, and the plateau is flat, so repeated runs agree.
import { cpus } from 'node:os';
import type { Knex } from 'knex';
import { summarize, type Summary } from '../chaos/audit';
import { cpuBetween, type ProcessUse } from './processes';

export interface Level {
  buyers: number;
  /** Payments acknowledged inside the window. */
  completed: number;
  perSecond: number;
  errors: number;
  windowS: number;
  /** One buyer's round trip (order, POST /payments, pay, order acknowledged) for payments acknowledged in the window. */
  roundTripMs: Summary;
  /** CPU ms of each process over the window. */
  cpuMs: Record<string, number>;
  /** RSS MB of each process at the end of the window. */
  rssMb: Record<string, number>;
  /** The share of the machine's cores all the measured processes used over the window (the rest went elsewhere). */
  cpuShare: number;
}

export interface Ramp {
  levels: Level[];
  /** The level with the highest completed payments/s. */
  best: Level;
}

export interface RampOptions {
  knex: Knex;
  /** Creates and pays one payment; resolves with its id once the buyer has paid. */
  pay: () => Promise<string>;
  buyers: number[];
  warmupS: number;
  windowS: number;
  /** A level that adds less than this (0.05: 5%) to the best so far does not count as rising. */
  minGain: number;
  /** The ramp ends after this many levels in a row that did not rise (2: one noisy level does not end it). */
  patience: number;
  use: () => Record<string, ProcessUse>;
  say: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Watches the payments table for acknowledgements: one query every 100 ms for all the buyers waiting. */
class Acknowledgements {
  private readonly waiting = new Map<string, { resolve: (at: number) => void; until: number }>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly knex: Knex) {
    this.loop = this.poll();
  }

  wait(paymentId: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve) => this.waiting.set(paymentId, { resolve, until: Date.now() + timeoutMs }));
  }

  private async poll(): Promise<void> {
    while (this.running || this.waiting.size > 0) {
      if (this.waiting.size > 0) {
        const rows = (await this.knex('payments')
          .select('id', 'order_notified_at')
          .whereIn('id', [...this.waiting.keys()])
          .whereNotNull('order_notified_at')) as { id: string; order_notified_at: Date }[];
        for (const r of rows) {
          this.waiting.get(r.id)?.resolve(r.order_notified_at.getTime());
          this.waiting.delete(r.id);
        }
        for (const [id, w] of this.waiting) {
          if (Date.now() > w.until) {
            w.resolve(NaN);
            this.waiting.delete(id);
          }
        }
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

async function level(options: RampOptions, buyers: number): Promise<Level> {
  const acks = new Acknowledgements(options.knex);
  const start = Date.now();
  const windowStart = start + options.warmupS * 1000;
  const windowEnd = windowStart + options.windowS * 1000;
  const done: { startedAt: number; ackedAt: number }[] = [];
  let errors = 0;
  // The snapshots' own times bound the window: a timer can fire late on a busy box, and the payments counted must be
  // those of the CPU measured.
  let before: { at: number; use: Record<string, ProcessUse> } | undefined;
  let after: { at: number; use: Record<string, ProcessUse> } | undefined;
  const snapshots = Promise.all([
    sleep(windowStart - Date.now()).then(() => (before = { at: Date.now(), use: options.use() })),
    sleep(windowEnd - Date.now()).then(() => (after = { at: Date.now(), use: options.use() })),
  ]);
  await Promise.all(
    Array.from({ length: buyers }, async () => {
      while (Date.now() < windowEnd) {
        const startedAt = Date.now();
        try {
          const ackedAt = await acks.wait(await options.pay(), 60_000);
          if (Number.isNaN(ackedAt)) errors++;
          else done.push({ startedAt, ackedAt });
        } catch {
          errors++;
          await sleep(200);
        }
      }
    }),
  );
  await acks.stop();
  await snapshots;
  const cpuMs = cpuBetween(before!.use, after!.use);
  const windowS = (after!.at - before!.at) / 1000;
  const inWindow = done.filter((d) => d.ackedAt >= before!.at && d.ackedAt < after!.at);
  return {
    buyers,
    completed: inWindow.length,
    perSecond: inWindow.length / windowS,
    errors,
    windowS,
    roundTripMs: summarize(inWindow.map((d) => d.ackedAt - d.startedAt)),
    cpuMs,
    cpuShare: Object.values(cpuMs).reduce((a, b) => a + b, 0) / (windowS * 1000 * cpus().length),
    rssMb: Object.fromEntries(Object.entries(after!.use).map(([k, v]) => [k, v.rssMb])),
  };
}

/** Raises the number of buyers until completed payments/s stop rising. */
export async function ramp(options: RampOptions): Promise<Ramp> {
  const levels: Level[] = [];
  let best: Level | undefined;
  let flat = 0;
  for (const buyers of options.buyers) {
    const l = await level(options, buyers);
    levels.push(l);
    options.say(
      `  ${buyers} buyers: ${l.perSecond.toFixed(1)} payments/s (${l.completed} in ${l.windowS.toFixed(1)} s), ` +
        `round trip p50 ${l.roundTripMs.p50 ?? '-'} ms, ${(l.cpuShare * 100).toFixed(0)}% of the cores` +
        `${l.errors ? `, ${l.errors} errors` : ''}`,
    );
    const rising = !best || l.perSecond >= best.perSecond * (1 + options.minGain);
    if (!best || l.perSecond > best.perSecond) best = l;
    flat = rising ? 0 : flat + 1;
    if (flat >= options.patience) break;
  }
  return { levels, best: best! };
}
