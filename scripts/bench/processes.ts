// What each process of a stack costs, from /proc: CPU (utime + stime) and memory of a supervised process and all its
// descendants (PostgreSQL's backends are children of its postmaster, which itself may run under runuser), so a
// snapshot before and after a window gives each process's CPU over it. Memory is the proportional set size (PSS,
// /proc/<pid>/smaps_rollup): PostgreSQL's shared buffers appear in the RSS of every backend, so summing RSS over its
// processes would count them many times; PSS shares them out.
import { readdirSync, readFileSync } from 'node:fs';
import type { Supervisor } from '../stack/supervisor';

/** Clock ticks per second for /proc's times (USER_HZ: 100 on Linux everywhere that matters). */
const TICKS_PER_SECOND = 100;
const PAGE_KB = 4;

interface Proc {
  ppid: number;
  ticks: number;
  rssKb: number;
}

function readAll(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may contain spaces: the fields start after the last ')'.
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
      procs.set(Number(entry), {
        ppid: Number(f[1]),
        ticks: Number(f[11]) + Number(f[12]),
        rssKb: Number(f[21]) * PAGE_KB,
      });
    } catch {
      // gone between readdir and read
    }
  }
  return procs;
}

export interface ProcessUse {
  cpuMs: number;
  /** PSS in MB (RSS where smaps_rollup cannot be read). */
  rssMb: number;
}

function pssKb(pid: number, rssKb: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? rssKb);
  } catch {
    return rssKb;
  }
}

/** CPU ms so far and RSS now of each named process with its descendants, and of this process (`load`). */
export function processUse(supervisor: Supervisor, names: string[]): Record<string, ProcessUse> {
  const procs = readAll();
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const tree = (pid: number): ProcessUse => {
    let ticks = 0;
    let rssKb = 0;
    const stack = [pid];
    while (stack.length) {
      const at = stack.pop()!;
      const p = procs.get(at);
      if (!p) continue;
      ticks += p.ticks;
      rssKb += pssKb(at, p.rssKb);
      stack.push(...(children.get(at) ?? []));
    }
    return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, rssMb: rssKb / 1024 };
  };
  const use: Record<string, ProcessUse> = {};
  for (const name of names) {
    const pid = supervisor.process(name)?.pid;
    if (pid !== undefined) use[name] = tree(pid);
  }
  // Only this process itself: every supervised process is its descendant.
  const self = procs.get(process.pid);
  if (self) use.load = { cpuMs: (self.ticks * 1000) / TICKS_PER_SECOND, rssMb: pssKb(process.pid, self.rssKb) / 1024 };
  return use;
}

/** CPU ms each process spent between two snapshots (a process restarted in between counts from zero). */
export function cpuBetween(
  before: Record<string, ProcessUse>,
  after: Record<string, ProcessUse>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([name, a]) => {
      const b = before[name]?.cpuMs ?? 0;
      return [name, a.cpuMs >= b ? a.cpuMs - b : a.cpuMs];
    }),
  );
}
