// The promise, proven under fire: a 100-payment chaos run with every fault kind (callbacks dropped, duplicated,
// delayed, reordered; queries failing and hanging; stuck payments; closes racing payments; late settlements; the
// order service failing and going down; the worker SIGKILLed repeatedly, the API killed, Temporal restarted) must
// end with zero violations. Runs after the main suite (its own jest config), on its own stack.
import { NO_VIOLATIONS, runChaos } from '../support/chaos-run';

describe('the chaos run (100 payments, seed ci-42)', () => {
  it('breaks everything at once and ends with no drop order, no double payment, nothing left open', () => {
    const { status, report: r } = runChaos(['--payments', '100', '--seed', 'ci-42'], 15 * 60_000);
    expect(r.violations).toEqual(NO_VIOLATIONS);
    expect(status).toBe(0);
    // Every kind of trouble really happened.
    const events = r.chaosEvents.map((e) => e.what).join('\n');
    expect(events).toMatch(/worker SIGKILLed/);
    expect(events).toMatch(/API SIGKILLed/);
    expect(events).toMatch(/Temporal dev server stopped/);
    expect(events).toMatch(/Temporal dev server back/);
    expect(events).toMatch(/order service outage/);
    expect(events).toMatch(/terminated [1-9]\d* payment workflows/);
    expect(r.restarts.worker).toBeGreaterThanOrEqual(1);
    expect(r.counts.payments).toBe(100);
    expect(r.counts.byStatus.SUCCESS).toBeGreaterThan(0);
    expect(r.counts.byStatus.CLOSED).toBeGreaterThan(0);
    // Spread over every channel the stack runs, each paid and clean on its own.
    for (const [name, c] of Object.entries(r.perChannel)) {
      expect([name, c.payments > 0, (c.byStatus.SUCCESS ?? 0) > 0, c.totalViolations]).toEqual([name, true, true, 0]);
    }
  });
});
