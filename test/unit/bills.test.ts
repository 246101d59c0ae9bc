// A day's bill (WeChat Pay, Alipay) is out the next morning, China time: statements are compared only up to the end
// of the last day whose bill is out.
import { billsReadyUntil } from '../../channels/bills';

const H = 3600_000;

describe('when daily bills are final', () => {
  it('cuts at the end of the last China day whose bill is out', () => {
    // 2026-11-27 09:00 China time = 01:00 UTC: with bills out at 10:00 the next morning, only the 25th's is out.
    expect(billsReadyUntil(new Date('2026-11-27T01:00:00Z'), 10 * H).toISOString()).toBe('2026-11-25T16:00:00.000Z');
    // 10:30 China time: the 26th's is out too, up to the start of the 27th (China).
    expect(billsReadyUntil(new Date('2026-11-27T02:30:00Z'), 10 * H).toISOString()).toBe('2026-11-26T16:00:00.000Z');
    // Exactly at 10:00: out.
    expect(billsReadyUntil(new Date('2026-11-27T02:00:00Z'), 10 * H).toISOString()).toBe('2026-11-26T16:00:00.000Z');
    // Late evening China time (after 16:00 UTC the China day has turned): still the 26th's is the last out.
    expect(billsReadyUntil(new Date('2026-11-27T17:00:00Z'), 10 * H).toISOString()).toBe('2026-11-26T16:00:00.000Z');
  });

  it('with no delay (our emulators serve a day as it goes) the statement is live', () => {
    const now = new Date('2026-11-27T01:00:00Z');
    expect(billsReadyUntil(now, 0)).toBe(now);
  });
});
