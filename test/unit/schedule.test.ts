import { checkTime, checkTimesUntil, intervalFor, nextWake } from '../../workflows/schedule';

const s = 1000;
const m = 60 * s;
const DEFAULT = [10 * s, 30 * s, 1 * m, 2 * m, 5 * m, 10 * m, 15 * m, 30 * m];

describe('escalation schedule', () => {
  it('places the default checks at 10 s, 40 s, 1m40, 3m40, 8m40, 18m40 before a 30 min expiry', () => {
    expect(checkTimesUntil(0, DEFAULT, 30 * m)).toEqual([10 * s, 40 * s, 100 * s, 220 * s, 520 * s, 1120 * s]);
  });

  it('repeats the last interval until expiry', () => {
    const times = checkTimesUntil(0, DEFAULT, 3 * 60 * m);
    expect(times.slice(6)).toEqual([
      1120 * s + 15 * m,
      1120 * s + 45 * m,
      1120 * s + 75 * m,
      1120 * s + 105 * m,
      1120 * s + 135 * m,
    ]);
    expect(intervalFor(DEFAULT, 100)).toBe(30 * m);
  });

  it('counts from the start, so offsets do not drift', () => {
    expect(checkTime(5000, [10, 20], 0)).toBe(5010);
    expect(checkTime(5000, [10, 20], 3)).toBe(5070);
  });

  it('wakes at expiry when the next check would come after it', () => {
    expect(nextWake(0, DEFAULT, 0, 30 * m)).toEqual({ at: 10 * s, isExpiry: false });
    expect(nextWake(0, DEFAULT, 6, 30 * m)).toEqual({ at: 30 * m, isExpiry: true });
    // A check due exactly at expiry is the expiry's final query, not an extra one.
    expect(nextWake(0, [10 * s], 2, 30 * s)).toEqual({ at: 30 * s, isExpiry: true });
  });

  it('rejects an empty or non-positive schedule', () => {
    expect(() => intervalFor([], 0)).toThrow(RangeError);
    expect(() => intervalFor([0], 0)).toThrow(RangeError);
  });
});
