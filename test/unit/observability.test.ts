// The alert rules and the Grafana dashboard against what the service really exports: promtool (Prometheus's own
// checker, built by scripts/bootstrap.mjs) checks and unit-tests the rules (observability/prometheus/alerts.test.yml:
// each alert fires when it should and not otherwise) and parses every dashboard query; Prometheus's PromQL grammar
// (@prometheus-io/lezer-promql) finds the metric and label names each expression uses, which must be in
// observability/metrics.ts' registry.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import type * as LezerPromQL from '@prometheus-io/lezer-promql' with { 'resolution-mode': 'import' };
import { parse } from 'yaml';
import { registerDatabaseGauges, registry } from '../../observability/metrics';
import { readToolchain } from '../../scripts/stack/toolchain';

// The grammar ships CommonJS beside its ES module; its types are the ES module's.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as typeof LezerPromQL;

const root = join(__dirname, '..', '..');
const promDir = join(root, 'observability', 'prometheus');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (
  parse(readFileSync(join(promDir, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: unknown;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; refId: string }[];
}
const dashboardText = readFileSync(join(root, 'observability', 'grafana', 'payments.json'), 'utf8');

/** Grafana's variables replaced by what they stand for, so that Prometheus can parse the query. */
const asPromQL = (expr: string) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$channel', '.*');

/** Every selector in an expression: its metric name and the labels it matches on. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  const found: { metric: string; labels: string[] }[] = [];
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: ${expr.slice(node.from, node.from + 20)}`);
      if (node.name !== 'VectorSelector') return;
      const name = node.node.getChild('Identifier');
      const matchers = node.node.getChild('LabelMatchers');
      const labels: string[] = [];
      matchers?.cursor().iterate((m) => {
        if (m.name === 'LabelName') labels.push(expr.slice(m.from, m.to));
      });
      found.push({ metric: name ? expr.slice(name.from, name.to) : '', labels });
    },
  });
  if (errors.length) throw new Error(`PromQL does not parse: ${expr}\n  ${errors.join('\n  ')}`);
  return found;
}

/** The series names the service exports (a histogram's as _bucket, _sum, _count), with their label names. */
function exportedSeries(): Map<string, Set<string>> {
  const db = knex({ client: 'pg' }); // never connects: gauges only query when scraped
  registerDatabaseGauges(db, 600_000);
  const scrapeLabels = ['job', 'instance']; // what Prometheus adds to every series it scrapes
  const names = new Map<string, Set<string>>([['up', new Set(scrapeLabels)]]);
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const labels = new Set([...labelNames, ...scrapeLabels]);
    const isHistogram = (metric as unknown as { type?: string }).type === 'histogram';
    if (isHistogram) {
      names.set(`${name}_bucket`, new Set([...labels, 'le']));
      names.set(`${name}_sum`, labels);
      names.set(`${name}_count`, labels);
    } else {
      names.set(name, labels);
    }
  }
  return names;
}

const exported = (() => {
  let names: Map<string, Set<string>> | undefined;
  return () => (names ??= exportedSeries());
})();

function unknownNames(expr: string, known: Map<string, Set<string>>): string[] {
  return selectors(expr).flatMap(({ metric, labels }) => {
    const labelSet = known.get(metric);
    if (!labelSet) return [`metric ${metric || '(none)'}`];
    return labels.filter((l) => !labelSet.has(l)).map((l) => `label ${l} of ${metric}`);
  });
}

function promtool(...args: string[]): string {
  const bin = readToolchain().promtool;
  if (!bin) throw new Error('no promtool in .data/toolchain.json: run `node scripts/bootstrap.mjs test`');
  try {
    return execFileSync(bin, args, { cwd: promDir, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('alert rules (observability/prometheus/alerts.yml)', () => {
  it('pass promtool check rules, and the Prometheus configuration that loads them passes check config', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(promtool('check', 'config', 'prometheus.yml')).toContain('is valid prometheus config file syntax');
  });

  it('pass their unit tests: each alert fires when its figure says so, and not before or for another label', () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it('have a unit test that sees each alert fire and one that sees it silent', () => {
    const tests = (
      parse(readFileSync(join(promDir, 'alerts.test.yml'), 'utf8')) as {
        tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test);
    for (const { alert } of rules) {
      const cases = tests.filter((c) => c.alertname === alert);
      expect({ alert, fires: cases.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, silent: cases.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, silent: true });
    }
  });

  it('each carry a severity, a summary and a description that names what to look at', () => {
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(rule.annotations?.summary).toBeTruthy();
      // an operator command or figure to go to: an admin route, a CLI call, a metric, a configuration variable
      expect({
        alert: rule.alert,
        actionable: /\/admin\/|temporal |[A-Z_]{6,}|payments_/.test(rule.annotations!.description!),
      }).toEqual({
        alert: rule.alert,
        actionable: true,
      });
    }
  });

  it('name only metrics and labels the service exports', () => {
    const known = exported();
    // the database gauges included
    expect(known.has('payments_oldest_open_past_expiry_seconds')).toBe(true);
    for (const rule of rules)
      expect({ alert: rule.alert, unknown: unknownNames(rule.expr, known) }).toEqual({
        alert: rule.alert,
        unknown: [],
      });
  });
});

describe('Prometheus in docker-compose.yml', () => {
  it('loads observability/prometheus and scrapes every api and worker replica on the ports they listen on there', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string | number>; volumes?: string[] }>;
    };
    expect(compose.services.prometheus?.volumes).toContain('./observability/prometheus:/etc/prometheus:ro');
    const config = parse(readFileSync(join(promDir, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; type: string; port: number }[] }[];
    };
    // Each replica by DNS (the service name answers with every replica's address), on its port.
    const targets = Object.fromEntries(
      config.scrape_configs.map((job) => [
        job.job_name,
        job.dns_sd_configs.flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
      ]),
    );
    const env = (service: string) => compose.services[service]!.environment!;
    expect(targets).toEqual({
      'payments-api': [`api:${env('api').API_PORT}`],
      'payments-worker': [`worker:${env('worker').WORKER_METRICS_PORT}`],
      'temporal-sdk': [`worker:${env('worker').TEMPORAL_SDK_METRICS_PORT}`],
    });
    // the jobs the alert on an unreachable process names
    expect(rules.find((r) => r.alert === 'PaymentsMetricsDown')?.expr).toContain('payments-api|payments-worker');
  });
});

describe('Grafana dashboard (observability/grafana/payments.json)', () => {
  const dashboard = JSON.parse(dashboardText) as { uid: string; title: string; panels: Panel[] };
  const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');
  const queries = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('is a dashboard with unique panel ids, every panel on the 24-column grid with a query', () => {
    expect(dashboard.uid).toBeTruthy();
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    for (const p of queryPanels) {
      expect({ panel: p.title, hasQuery: (p.targets?.length ?? 0) > 0 }).toEqual({ panel: p.title, hasQuery: true });
      expect(p.datasource).toBeDefined();
    }
  });

  it('shows the figures the alerts watch, and payments, channels, the order service, refunds', () => {
    const text = queries.map((q) => q.expr).join('\n');
    for (const metric of [
      'payments_unacknowledged_notifications_alerting',
      'payments_oldest_open_past_expiry_seconds',
      'payments_created_total',
      'payments_finished_total',
      'payments_callbacks_total',
      'payments_channel_queries_total',
      'payments_order_notifications_total',
      'payments_success_to_order_paid_seconds_bucket',
      'payments_refunds_total',
      'payments_reconcile_repairs_total',
      'payments_anomalies_total{kind="channel_not_found"}',
    ])
      expect(text).toContain(metric);
  });

  it('queries only metrics and labels the service exports', () => {
    const known = exported();
    for (const q of queries)
      expect({ ...q, unknown: unknownNames(asPromQL(q.expr), known) }).toEqual({ ...q, unknown: [] });
  });

  it("has queries Prometheus's own parser accepts (promtool, each as a recording rule)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-promql-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      const recording = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(q.expr) }));
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: recording }] }));
      expect(promtool('check', 'rules', file)).toContain(`SUCCESS: ${recording.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
