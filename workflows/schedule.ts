// The escalation schedule: when the workflow asks the channel about a payment that has not called back.
// Pure and deterministic: offsets are computed from the moment the payment started waiting, not from when the
// previous query finished, so a slow or retried query never shifts the schedule.

/** The wait before check number `index` (0-based): the schedule's entry, then its last entry forever. */
export function intervalFor(schedule: readonly number[], index: number): number {
  if (schedule.length === 0) throw new RangeError('the query schedule is empty');
  const interval = schedule[Math.min(index, schedule.length - 1)]!;
  if (!(interval > 0)) throw new RangeError(`query schedule entry ${index} is not a positive duration`);
  return interval;
}

/** Time of scheduled check number `index` (0-based), in ms since the epoch. */
export function checkTime(startMs: number, schedule: readonly number[], index: number): number {
  let at = startMs;
  for (let i = 0; i <= index; i++) at += intervalFor(schedule, i);
  return at;
}

/** All scheduled check times strictly before expiry; at expiry itself there is the final query and the close. */
export function checkTimesUntil(startMs: number, schedule: readonly number[], expiresAtMs: number): number[] {
  const times: number[] = [];
  for (let i = 0; ; i++) {
    const at = checkTime(startMs, schedule, i);
    if (at >= expiresAtMs) return times;
    times.push(at);
  }
}

export interface NextWake {
  /** When to wake up next, in ms since the epoch. */
  at: number;
  /** True when that wake-up is the payment's expiry (final query, then close), not a scheduled check. */
  isExpiry: boolean;
}

/** The next wake-up after `checksDone` scheduled checks: the next check, or the expiry if that comes first. */
export function nextWake(
  startMs: number,
  schedule: readonly number[],
  checksDone: number,
  expiresAtMs: number,
): NextWake {
  const at = checkTime(startMs, schedule, checksDone);
  return at < expiresAtMs ? { at, isExpiry: false } : { at: expiresAtMs, isExpiry: true };
}
