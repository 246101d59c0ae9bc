// When a channel's daily statement is final. WeChat Pay and Alipay publish a day's bill the next morning (China
// time), not as the day goes: asked for today's, WeChat Pay refuses and Alipay has none, and a reconciliation that
// took "no bill" for "no money" would flag every payment of the day. A statement is asked only for the days whose
// bill is out.

/** China Standard Time, the day the vendors' bills follow. */
const CHINA_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

/**
 * The end of the last China day whose bill is out at `now`, given that a day's bill comes out `delayMs` after the day
 * ends (0: at once, as our emulators serve it). A statement range is cut there.
 */
export function billsReadyUntil(now: Date, delayMs: number): Date {
  if (delayMs <= 0) return now;
  const shifted = now.getTime() - delayMs + CHINA_OFFSET_MS;
  return new Date(shifted - (((shifted % DAY_MS) + DAY_MS) % DAY_MS) - CHINA_OFFSET_MS);
}
