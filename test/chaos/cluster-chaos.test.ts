// The promise on the production topology: the chaos run on the cluster engine (Temporal's four services on a
// PostgreSQL of their own, two workers, two API replicas behind the balancer) with every fault of the dev-server run
// that is not about the dev server (callbacks dropped, duplicated, delayed; queries failing and hanging; stuck
// payments; late settlements; the order service failing and going down; workers SIGKILLed; workflows terminated by
// mistake) plus the cluster's own: the history, matching and frontend services SIGKILLed (restarted by the
// supervisor), one worker killed for good mid-run (the other takes all the work), one API replica SIGKILLed while
// buyers pay through both, and Temporal's PostgreSQL restarted. Zero violations of every invariant.
import { NO_VIOLATIONS, runChaos } from '../support/chaos-run';

describe('the chaos run on the cluster engine (80 payments, seed ci-cluster-7)', () => {
  it("loses services, a worker, an API replica and Temporal's database, and ends with no violation", () => {
    const { status, report: r } = runChaos(
      ['--engine', 'cluster', '--payments', '80', '--seed', 'ci-cluster-7'],
      20 * 60_000,
    );
    expect(r.violations).toEqual(NO_VIOLATIONS);
    expect(status).toBe(0);
    expect(r.engine).toBe('cluster');
    expect(r.topology.workers).toEqual(['worker-1', 'worker-2']);
    expect(r.topology.apis).toEqual(['api-1', 'api-2']);
    // Every fault happened, and the supervisor brought back what it should.
    const events = r.chaosEvents.map((e) => e.what).join('\n');
    for (const service of ['history', 'matching', 'frontend']) {
      expect(events).toMatch(new RegExp(`Temporal ${service} service SIGKILLed`));
      expect(r.restarts[`temporal-${service}`]).toBeGreaterThanOrEqual(1);
    }
    expect(events).toMatch(/worker-2 killed for good/);
    expect(events).toMatch(/API replica api-1 SIGKILLed/);
    expect(r.restarts['api-1']).toBeGreaterThanOrEqual(1);
    expect(events).toMatch(/Temporal's PostgreSQL back/);
    expect(events).toMatch(/order service outage/);
    expect(events).toMatch(/terminated [1-9]\d* payment workflows/);
    expect(events).toMatch(/worker-1 SIGKILLed/);
    // The lost worker stayed lost; everything else runs to the end.
    expect(r.processes['worker-2']).toBe('stopped');
    expect(r.processes['worker-1']).toBe('running');
    // Buyers and channels reached both API replicas through the balancer (api-1 again after its restart).
    expect(r.replicaTraffic['api-1']).toBeGreaterThan(0);
    expect(r.replicaTraffic['api-2']).toBeGreaterThan(0);
    expect(r.counts.payments).toBe(80);
    expect(r.counts.byStatus.SUCCESS).toBeGreaterThan(0);
    expect(r.counts.byStatus.CLOSED).toBeGreaterThan(0);
    for (const [name, c] of Object.entries(r.perChannel)) {
      expect([name, c.payments > 0, (c.byStatus.SUCCESS ?? 0) > 0, c.totalViolations]).toEqual([name, true, true, 0]);
    }
  });
});
