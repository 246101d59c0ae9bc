// npm run bench [-- --engine dev,cluster] [-- --quick] [-- --only baseline,payments,latency,cost,lost,open,scale,codec]
//               [-- --repeat 3] [-- --buyers 4,8,16,32] [-- --warmup 5] [-- --window 15] [-- --rates 4,8,16]
//               [-- --open 20000] [-- --open-minutes 20] [-- --worker-env NAME=value ...] [-- --label text]
// Measures the service on each Temporal engine in turn, the dev server (one process, SQLite) and the cluster
// (Temporal's four services on a PostgreSQL of their own, two workers, API replicas behind the balancer), each on a
// fresh stack of its own with the same parts, and prints one table with a column per engine and their ratio (JSON
// under bench/results/):
//   1. baseline  workflows with one no-op activity, started as fast as the engine takes them: completed/s
//   2. payments  saturation by closed-loop load (scripts/bench/closed-loop.ts): N buyers each doing order, POST
//                /payments, pay, wait for the order acknowledged; N raised until payments/s stop rising, counted
//                over a steady window after a warm-up; repeated --repeat times: median, min-max and spread. Its
//                ratio to the baseline. (--rates adds the old open-loop steps at those offered rates.)
//   3. latency   at half the saturated rate (open loop): POST /payments and callback received -> order acknowledged
//   4. cost      per payment over that window: history events, SQL statements, and CPU ms of every process (each
//                Temporal service and Temporal's PostgreSQL, our PostgreSQL, each worker, each API, the balancer, the
//                sandbox, the load generator) from /proc deltas (scripts/bench/processes.ts), at saturation (median
//                of the runs) when the payments part ran; memory (PSS) per process
//   5. lost      every callback dropped: channel success -> order paid (tracks the first query interval)
//   6. open      N payments left open on their timers: memory before and after (worker MB per open payment), time
//                to create them, and the latency of new payments with them open
//   7. scale     cluster only: saturation with 1 worker + 1 API against the default replicas, CPU per payment per
//                tier, and the projection of which tier saturates first per core
//   8. codec     what the payload codec costs (codec/: every payload encrypted, as the stacks run by default): the
//                first engine again with PAYLOAD_ENCRYPTION=off, saturation and CPU ms per payment per process and
//                the bytes of a payment's history, side by side with the encrypted run
// Everything runs on this machine: the load generator shares the cores with what it measures (reported), and the
// machine's load average before and after is recorded, since the box may be shared.
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { paymentWorkflowId } from '../workflows/definitions';
import { summarize, type Summary } from './chaos/audit';
import { type Ramp, ramp } from './bench/closed-loop';
import { cpuBetween, processUse } from './bench/processes';
import { type Engine, ENGINES } from './stack/cluster-engine';
import { type RunStack, startRunStack } from './stack/run-stack';
import { projectRoot, readToolchain } from './stack/toolchain';

const PARTS = ['baseline', 'payments', 'latency', 'cost', 'lost', 'open', 'scale', 'codec'] as const;
type Part = (typeof PARTS)[number];

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: ENGINES.join(',') },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    baseline: { type: 'string' },
    repeat: { type: 'string' },
    buyers: { type: 'string' },
    warmup: { type: 'string' },
    window: { type: 'string' },
    rates: { type: 'string' },
    open: { type: 'string' },
    'open-minutes': { type: 'string' },
    /** The earlier name of --open-minutes (the open payments were the `scale` part then). */
    'scale-minutes': { type: 'string' },
    lost: { type: 'string' },
    'worker-env': { type: 'string', multiple: true, default: [] },
    label: { type: 'string', default: '' },
  },
});
const quick = args.quick!;
const engines = args.engine!.split(',') as Engine[];
for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`unknown engine "${e}"; engines: ${ENGINES}`);
const only = new Set<Part>((args.only?.split(',') ?? PARTS) as Part[]);
for (const p of only) if (!PARTS.includes(p)) throw new Error(`unknown part "${p}"; parts: ${PARTS.join(', ')}`);
const sizes = {
  baseline: Number(args.baseline ?? (quick ? 300 : 2000)),
  repeat: Number(args.repeat ?? 3),
  buyers: (args.buyers ?? (quick ? '4,8,16,32' : '4,8,12,16,24,32,48')).split(',').map(Number),
  warmupS: Number(args.warmup ?? (quick ? 3 : 5)),
  windowS: Number(args.window ?? (quick ? 6 : 15)),
  /** A ramp ends after two levels in a row that added less than 5% to the best so far. */
  minGain: 0.05,
  patience: 2,
  /** Open-loop offered rates (the earlier saturation search), only when asked for. */
  rates: args.rates?.split(',').map(Number) ?? [],
  open: Number(args.open ?? (quick ? 500 : 20_000)),
  /** Creating the open payments stops here, so the run ends even where the box cannot take N. */
  openMinutes: Number(args['open-minutes'] ?? args['scale-minutes'] ?? (quick ? 3 : 20)),
  lost: Number(args.lost ?? (quick ? 4 : 12)),
};
/** The balancer process lands separately; until it is there the cluster runs one API replica. */
const HAVE_BALANCER = existsSync(join(projectRoot, 'scripts', 'stack', 'balancer-main.ts'));

const t0 = Date.now();
const say = (msg: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- helpers ---------------------------------------------------------------------------------------------------

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m) values.set(m[1]!, (values.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return values;
}

/** A metric summed over several processes' /metrics. */
async function scrapeSum(urls: string[], metric: string): Promise<number> {
  return (await Promise.all(urls.map(async (u) => (await scrape(u)).get(metric) ?? 0))).reduce((a, b) => a + b, 0);
}

interface PaymentRun {
  paymentId: string;
  createMs: number;
}

/** One full payment as a shop and a buyer make it: the order, POST /payments, the buyer pays. */
async function onePayment(stack: RunStack, pay = true): Promise<PaymentRun> {
  const order = await json(`${stack.urls.orders}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 2599, currency: 'CNY' }),
  });
  const started = performance.now();
  const created = await json(`${stack.urls.api}/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ orderId: order.body.orderId, amount: 2599, currency: 'CNY', channel: 'sandboxpay' }),
  });
  const createMs = performance.now() - started;
  if (created.status !== 201) throw new Error(`POST /payments answered ${created.status}`);
  if (pay) {
    const channelPaymentId = String(created.body.payUrl).split('/pay/')[1];
    await fetch(`${stack.urls.sandbox}/v1/payments/${channelPaymentId}/pay`, { method: 'POST' });
  }
  return { paymentId: String(created.body.paymentId), createMs };
}

/** Offers `rate` payments per second for `seconds`, open loop; waits for them to be acknowledged (or the grace). */
async function offered(stack: RunStack, rate: number, seconds: number, graceS = 20) {
  const total = Math.max(1, Math.round(rate * seconds));
  const runs: PaymentRun[] = [];
  let errors = 0;
  const start = Date.now();
  await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      await sleep(Math.max(0, start + (i * 1000) / rate - Date.now()));
      try {
        runs.push(await onePayment(stack));
      } catch {
        errors++;
      }
    }),
  );
  const ids = runs.map((r) => r.paymentId);
  const deadline = Date.now() + graceS * 1000;
  let acked = 0;
  while (Date.now() < deadline) {
    acked = Number(
      (await stack.knex('payments').whereIn('id', ids).whereNotNull('order_notified_at').count({ n: '*' }).first())
        ?.n ?? 0,
    );
    if (acked === ids.length) break;
    await sleep(250);
  }
  const times = (await stack.knex.raw(
    `select p.id,
            (select min(e.received_at) from payment_events e where e.payment_id = p.id and e.source = 'callback') as callback_at,
            (select min(t.at) from order_service.order_transitions t where t.payment_id = p.id::text) as acked_at,
            p.created_at
       from payments p where p.id = any(?)`,
    [ids],
  )) as { rows: { callback_at: Date | null; acked_at: Date | null; created_at: Date }[] };
  const done = times.rows.filter((r) => r.acked_at);
  const first = Math.min(...times.rows.map((r) => r.created_at.getTime()));
  const last = Math.max(...done.map((r) => r.acked_at!.getTime()));
  return {
    offeredPerSecond: rate,
    offered: total,
    errors,
    acknowledged: acked,
    achievedPerSecond: done.length > 0 ? done.length / ((last - first) / 1000) : 0,
    createMs: summarize(runs.map((r) => r.createMs)),
    callbackToAckMs: summarize(
      done.filter((r) => r.callback_at).map((r) => r.acked_at!.getTime() - r.callback_at!.getTime()),
    ),
    paymentIds: ids,
  };
}

type Offered = Awaited<ReturnType<typeof offered>>;
const saturated = (r: Omit<Offered, 'paymentIds'>) =>
  r.errors > 0 ||
  r.acknowledged < r.offered * 0.98 ||
  r.achievedPerSecond < r.offeredPerSecond * 0.85 ||
  (r.callbackToAckMs.p95 ?? 0) > 3000;

/** Every process of the stack whose CPU a payment costs (the Temporal engine's, ours, the doubles'). */
function processNames(stack: RunStack): string[] {
  const { workers, apis, balancer } = stack.services;
  return [...stack.temporalProcesses, 'postgres', ...workers, ...apis, ...(balancer ? [balancer] : []), 'sandbox'];
}

/**
 * Processes grouped by tier: each Temporal process on its own (its services scale separately), Temporal's and our
 * PostgreSQL, the workers, the APIs, the balancer; the sandbox (channel and order service doubles) and the load
 * generator are not ours to size, and are listed apart.
 */
function tiers(stack: RunStack, cpu: Record<string, number>): Record<string, number> {
  const sum = (names: string[]) => names.reduce((a, n) => a + (cpu[n] ?? 0), 0);
  const { workers, apis, balancer } = stack.services;
  return {
    ...Object.fromEntries(stack.temporalProcesses.map((n) => [n, cpu[n] ?? 0])),
    'postgres (ours)': cpu.postgres ?? 0,
    'workers (all)': sum(workers),
    'APIs (all)': sum(apis),
    ...(balancer ? { balancer: cpu[balancer] ?? 0 } : {}),
  };
}
const DOUBLES = ['sandbox', 'load'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Saturation {
  repeats: Ramp[];
  perSecond: number[];
  median: number;
  min: number;
  max: number;
  /** max/min - 1 */
  spread: number;
  /** CPU ms per payment per process at saturation: the median over the repeats' best levels. */
  cpuMsPerPayment: Record<string, number>;
  /**
   * What the cores would hold if they were the stack's alone: cores x 1000 / CPU ms per payment of every process
   * (load generator and doubles included), per repeat. Other work on a shared machine moves the measured payments/s;
   * it moves this much less.
   */
  cpuBound: { perSecond: number[]; median: number; min: number; max: number; spread: number };
  /** The share of the cores the stack had at each repeat's best level. */
  cpuShare: number[];
}

async function saturation(stack: RunStack, what: string): Promise<Saturation> {
  const repeats: Ramp[] = [];
  for (let i = 0; i < sizes.repeat; i++) {
    say(`${what}: closed-loop ramp ${i + 1}/${sizes.repeat} (buyers ${sizes.buyers.join(', ')})...`);
    repeats.push(
      await ramp({
        knex: stack.knex,
        pay: async () => (await onePayment(stack)).paymentId,
        buyers: sizes.buyers,
        warmupS: sizes.warmupS,
        windowS: sizes.windowS,
        minGain: sizes.minGain,
        patience: sizes.patience,
        use: () => processUse(stack.supervisor, processNames(stack)),
        say,
      }),
    );
  }
  const perSecond = repeats.map((r) => r.best.perSecond);
  const m = median(perSecond);
  // Per repeat, the median over its levels: CPU per payment hardly changes with the number of buyers, and a level
  // with a burst of background work (autovacuum) does not decide.
  const bound = repeats.map((r) =>
    median(
      r.levels.map((l) => (cpus().length * 1000 * l.completed) / Object.values(l.cpuMs).reduce((a, b) => a + b, 0)),
    ),
  );
  // Per process, the median over the repeats' best levels.
  const names = Object.keys(repeats[0]!.best.cpuMs);
  const cpuMsPerPayment = Object.fromEntries(
    names.map((k) => [k, median(repeats.map((r) => (r.best.cpuMs[k] ?? 0) / r.best.completed))]),
  );
  return {
    repeats,
    perSecond,
    median: m,
    min: Math.min(...perSecond),
    max: Math.max(...perSecond),
    spread: Math.max(...perSecond) / Math.min(...perSecond) - 1,
    cpuMsPerPayment,
    cpuBound: spreadOf(bound),
    cpuShare: repeats.map((r) => r.best.cpuShare),
  };
}

function spreadOf(xs: number[]) {
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { perSecond: xs, median: median(xs), min, max, spread: max / min - 1 };
}

const spreadText = (s: { perSecond: number[]; median: number; min: number; max: number; spread: number }) =>
  `${s.median.toFixed(1)} (${s.perSecond.map((x) => x.toFixed(1)).join(', ')}; ` +
  `${s.min.toFixed(1)}-${s.max.toFixed(1)}, spread ${(s.spread * 100).toFixed(0)}%)`;

/** One table row: the same measure on each engine; `value` (when numeric) feeds the ratio column. */
interface Cell {
  text: string;
  value?: number;
}
type Rows = Map<string, Cell>;

// ---- one engine --------------------------------------------------------------------------------------------------

interface EngineRun {
  engine: Engine;
  rows: Rows;
  json: Record<string, unknown>;
  /** For the scale part: the default replicas' saturation and the stack's shape. */
  saturation?: Saturation;
  shape?: { workers: number; apis: number };
  tierCpu?: Record<string, number>;
}

async function stackFor(
  engine: Engine,
  shape?: { workers: number; apis: number },
  extraEnv: Record<string, string> = {},
): Promise<RunStack> {
  const workerEnv = Object.fromEntries(
    (args['worker-env'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return startRunStack({
    name: `payments-bench-${engine}`,
    taskQueue: 'payments-bench',
    say,
    env: { PAYMENT_EXPIRY: '3h', RECONCILE_SCHEDULES: 'false', ...workerEnv, ...extraEnv },
    engine,
    ...(shape ?? (engine === 'cluster' && !HAVE_BALANCER ? { apis: 1 } : {})),
  });
}

async function measureEngine(engine: Engine): Promise<EngineRun> {
  say(`==== ${engine} ====`);
  const stack = await stackFor(engine);
  const stop = () => {
    say('stopping the stack');
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection, dataConverter: stack.dataConverter });
  const rows: Rows = new Map();
  const row = (key: string, text: string, value?: number) => rows.set(key, { text, value });
  const shape = { workers: stack.services.workers.length, apis: stack.services.apis.length };
  const out: Record<string, unknown> = {
    engine,
    shape,
    processes: stack.supervisor.snapshot(),
    postgres: ((await stack.knex.raw('show server_version')) as { rows: { server_version: string }[] }).rows[0]!
      .server_version,
  };
  row('processes: Temporal / workers / APIs', `${stack.temporalProcesses.length} / ${shape.workers} / ${shape.apis}`);
  let sat: Saturation | undefined;
  let tierCpu: Record<string, number> | undefined;
  try {
    // 1. The engine's own limit.
    let baselinePerSecond = NaN;
    if (only.has('baseline')) {
      say(`baseline: ${sizes.baseline} workflows with one no-op activity...`);
      const started = Date.now();
      let next = 0;
      const handles: Promise<unknown>[] = [];
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < sizes.baseline) {
            const i = next++;
            const handle = await client.workflow.start('baselineWorkflow', {
              taskQueue: 'payments-bench',
              workflowId: `baseline-${i}-${randomUUID().slice(0, 8)}`,
              args: [{ label: String(i) }],
            });
            handles.push(handle.result());
          }
        }),
      );
      const startedPerSecond = sizes.baseline / ((Date.now() - started) / 1000);
      await Promise.all(handles);
      baselinePerSecond = sizes.baseline / ((Date.now() - started) / 1000);
      out.baseline = { workflows: sizes.baseline, startedPerSecond, completedPerSecond: baselinePerSecond };
      row('baseline: no-op workflows completed/s', baselinePerSecond.toFixed(1), baselinePerSecond);
      say(`baseline: ${baselinePerSecond.toFixed(1)} workflows/s`);
    }

    // 2. Saturation, closed loop, repeated.
    let sustained = NaN;
    if (only.has('payments')) {
      sat = await saturation(stack, 'payments');
      sustained = sat.median;
      const mid = sat.repeats.find((r) => r.best.perSecond === sat!.median) ?? sat.repeats[0]!;
      out.payments = {
        method: 'closed loop',
        buyers: sizes.buyers,
        warmupS: sizes.warmupS,
        windowS: sizes.windowS,
        repeats: sat.repeats,
        cpuBound: sat.cpuBound,
        cpuShare: sat.cpuShare,
        perSecond: sat.perSecond,
        medianPerSecond: sat.median,
        min: sat.min,
        max: sat.max,
        spread: sat.spread,
        ratioToBaseline: sustained / baselinePerSecond,
      };
      row(
        `payments: saturated payments/s, median of ${sizes.repeat} (runs; min-max, spread)`,
        spreadText(sat),
        sustained,
      );
      row(
        '  share of the cores the stack had at saturation, per run',
        sat.cpuShare.map((x) => `${(x * 100).toFixed(0)}%`).join(', '),
      );
      row(
        'payments/s the cores would hold alone (cores x 1000 / CPU ms per payment)',
        spreadText(sat.cpuBound),
        sat.cpuBound.median,
      );
      if (!Number.isNaN(baselinePerSecond))
        row(
          'payments/s / baseline workflows/s',
          (sustained / baselinePerSecond).toFixed(2),
          sustained / baselinePerSecond,
        );
      row(
        '  at saturation: buyers, round trip p50/p95 ms',
        `${mid.best.buyers}, ${mid.best.roundTripMs.p50 ?? '-'} / ${mid.best.roundTripMs.p95 ?? '-'}`,
      );
      tierCpu = tiers(stack, sat.cpuMsPerPayment);
      out.saturationCpuMsPerPayment = { processes: sat.cpuMsPerPayment, tiers: tierCpu };
      if (sizes.rates.length) {
        const steps: Omit<Offered, 'paymentIds'>[] = [];
        for (const rate of sizes.rates) {
          say(`payments: offering ${rate}/s for ${sizes.windowS} s (open loop)...`);
          const { paymentIds: _ids, ...r } = await offered(stack, rate, sizes.windowS);
          steps.push(r);
          row(
            `  open loop: offered ${rate}/s`,
            `achieved ${r.achievedPerSecond.toFixed(1)}/s, ${r.acknowledged}/${r.offered} acked${saturated(r) ? ' (saturated)' : ''}`,
            r.achievedPerSecond,
          );
          if (saturated(r)) break;
        }
        out.openLoopSteps = steps;
      }
    }

    // 3 + 4. Latency at half the saturated rate, and what each payment costs.
    const latencyRate = Number.isNaN(sustained) ? 4 : Math.max(1, Math.round(sustained / 2));
    let latency: Offered | undefined;
    if (only.has('latency') || only.has('cost')) {
      const names = processNames(stack);
      const before = { use: processUse(stack.supervisor, names), ...(await metricSnapshot(stack)) };
      say(`latency: ${latencyRate}/s for ${sizes.windowS * 1.5} s...`);
      latency = await offered(stack, latencyRate, sizes.windowS * 1.5);
      const after = { use: processUse(stack.supervisor, names), ...(await metricSnapshot(stack)) };
      const n = latency.acknowledged;
      out.latency = {
        ratePerSecond: latencyRate,
        createMs: latency.createMs,
        callbackToAckMs: latency.callbackToAckMs,
      };
      row(`latency at half load: POST /payments p50/p95/p99 ms`, fmt(latency.createMs), latency.createMs.p50 ?? NaN);
      row(
        `latency at half load: callback -> order acked`,
        fmt(latency.callbackToAckMs),
        latency.callbackToAckMs.p50 ?? NaN,
      );
      row('  half load rate', `${latencyRate}/s`, latencyRate);
      if (only.has('cost')) {
        const sample = latency.paymentIds.slice(0, 20);
        const events = await Promise.all(
          sample.map(
            async (id) => (await client.workflow.getHandle(paymentWorkflowId(id)).fetchHistory()).events?.length ?? 0,
          ),
        );
        const halfLoad = Object.fromEntries(
          Object.entries(cpuBetween(before.use, after.use)).map(([k, v]) => [k, v / n]),
        );
        // The CPU rows come from the saturation runs when there were some (several windows, hundreds of payments, a
        // median per process); otherwise from the half-load window.
        const cpu = sat?.cpuMsPerPayment ?? halfLoad;
        const cpuFrom = sat ? 'at saturation, median of the runs' : `at ${latencyRate}/s`;
        const byTier = tiers(stack, cpu);
        const ours = Object.values(byTier).reduce((a, b) => a + b, 0);
        const temporal = stack.temporalProcesses.reduce((a, k) => a + (cpu[k] ?? 0), 0);
        const cost = {
          payments: n,
          historyEvents: events.reduce((a, b) => a + b, 0) / events.length,
          sqlStatementsWorkers: (after.workerStatements - before.workerStatements) / n,
          sqlStatementsApis: (after.apiStatements - before.apiStatements) / n,
          cpuMsPerPayment: cpu,
          cpuMsPerPaymentFrom: cpuFrom,
          cpuMsPerPaymentByTier: byTier,
          cpuMsPerPaymentAtHalfLoad: halfLoad,
          rssMb: Object.fromEntries(Object.entries(after.use).map(([k, v]) => [k, v.rssMb])),
        };
        out.cost = cost;
        row('cost/payment: history events', cost.historyEvents.toFixed(1), cost.historyEvents);
        row(
          'cost/payment: SQL statements (workers + APIs)',
          `${(cost.sqlStatementsWorkers + cost.sqlStatementsApis).toFixed(1)} (${cost.sqlStatementsWorkers.toFixed(1)} + ${cost.sqlStatementsApis.toFixed(1)})`,
          cost.sqlStatementsWorkers + cost.sqlStatementsApis,
        );
        row(`cost/payment CPU ms (${cpuFrom}): all ours`, ours.toFixed(1), ours);
        row('cost/payment CPU ms: Temporal (incl. its PostgreSQL)', temporal.toFixed(1), temporal);
        for (const [k, v] of Object.entries(byTier)) row(`cost/payment CPU ms: ${k}`, v.toFixed(1), v);
        for (const k of [...stack.services.workers, ...stack.services.apis])
          if (stack.services.workers.length > 1 || stack.services.apis.length > 1)
            row(`cost/payment CPU ms:   ${k}`, (cpu[k] ?? 0).toFixed(1), cpu[k]);
        for (const k of DOUBLES) row(`cost/payment CPU ms: ${k} (not ours)`, (cpu[k] ?? 0).toFixed(1), cpu[k]);
        const rss = (ns: string[]) => ns.reduce((a, k) => a + (cost.rssMb[k] ?? 0), 0);
        row(
          'memory MB (PSS): Temporal (incl. its PostgreSQL)',
          rss(stack.temporalProcesses).toFixed(0),
          rss(stack.temporalProcesses),
        );
        row('memory MB (PSS): workers (all)', rss(stack.services.workers).toFixed(0), rss(stack.services.workers));
        for (const [k, v] of Object.entries(cost.rssMb)) row(`memory MB (PSS):   ${k}`, v.toFixed(0), v);
      }
    }

    // 5. Lost callbacks: only the query finds the payment.
    if (only.has('lost')) {
      say(`lost callbacks: ${sizes.lost} payments with every callback dropped (first query at 10 s)...`);
      await json(`${stack.urls.sandbox}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ callbackDropRate: 1 }),
      });
      const runs = await Promise.all(
        Array.from({ length: sizes.lost }, async (_, i) => {
          await sleep(i * 500);
          return onePayment(stack);
        }),
      );
      const ids = runs.map((r) => r.paymentId);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const n = Number(
          (await stack.knex('payments').whereIn('id', ids).whereNotNull('order_notified_at').count({ n: '*' }).first())
            ?.n ?? 0,
        );
        if (n === ids.length) break;
        await sleep(500);
      }
      await json(`${stack.urls.sandbox}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ callbackDropRate: 0 }),
      });
      const rowsLost = (await stack.knex.raw(
        `select p.paid_at, p.resolved_by, (select min(t.at) from order_service.order_transitions t where t.payment_id = p.id::text) as acked_at
           from payments p where p.id = any(?)`,
        [ids],
      )) as { rows: { paid_at: Date | null; acked_at: Date | null; resolved_by: string }[] };
      const recovery = summarize(
        rowsLost.rows.filter((r) => r.paid_at && r.acked_at).map((r) => r.acked_at!.getTime() - r.paid_at!.getTime()),
      );
      out.lostCallback = {
        payments: ids.length,
        resolvedBy: rowsLost.rows.map((r) => r.resolved_by),
        channelSuccessToOrderPaidMs: recovery,
      };
      row('lost callback: channel success -> order paid', fmt(recovery), recovery.p50 ?? NaN);
    }

    // 6. Many payments open on their timers.
    if (only.has('open')) {
      const names = processNames(stack);
      const memory = () => {
        const use = processUse(stack.supervisor, names);
        const sum = (ns: string[]) => ns.reduce((a, k) => a + (use[k]?.rssMb ?? 0), 0);
        return { workers: sum(stack.services.workers), temporal: sum(stack.temporalProcesses), processes: use };
      };
      const memBefore = memory();
      say(`open: creating ${sizes.open} payments that stay open on their timers (at most ${sizes.openMinutes} min)...`);
      const started = Date.now();
      const capAt = started + sizes.openMinutes * 60_000;
      let next = 0;
      let created = 0;
      let failures = 0;
      // Creation rate per 10 s window: how it changes as more payments are open (their queries load the box).
      const windows: { atS: number; open: number; perSecond: number }[] = [];
      let windowStart = Date.now();
      let windowCreated = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < sizes.open && Date.now() < capAt) {
            next++;
            try {
              await onePayment(stack, false);
              created++;
              windowCreated++;
            } catch {
              failures++;
            }
            if (Date.now() - windowStart >= 10_000) {
              const perSecond = windowCreated / ((Date.now() - windowStart) / 1000);
              windows.push({ atS: Math.round((Date.now() - started) / 1000), open: created, perSecond });
              windowStart = Date.now();
              windowCreated = 0;
              say(`  ${created}/${sizes.open} open, creating ${perSecond.toFixed(1)}/s now`);
            }
          }
        }),
      );
      const capped = next < sizes.open;
      if (capped) say(`open: stopped at the ${sizes.openMinutes} min cap with ${created} open`);
      const createSeconds = (Date.now() - started) / 1000;
      await sleep(5000);
      const memAfter = memory();
      say(`open: latency of new payments with ${created} open...`);
      const probe = await offered(stack, latencyRate, sizes.windowS);
      const workerMbPerOpen = (memAfter.workers - memBefore.workers) / created;
      out.open = {
        requested: sizes.open,
        open: created,
        cappedAfterMinutes: capped ? sizes.openMinutes : null,
        failures,
        createSeconds,
        createdPerSecond: created / createSeconds,
        creationWindows: windows,
        memoryMb: { before: memBefore, after: memAfter },
        workerMbPerOpenPayment: workerMbPerOpen,
        latencyWithOpen: {
          ratePerSecond: latencyRate,
          createMs: probe.createMs,
          callbackToAckMs: probe.callbackToAckMs,
        },
        latencyWithout: latency ? { createMs: latency.createMs, callbackToAckMs: latency.callbackToAckMs } : null,
      };
      row(
        'open: payments created (of requested), /s',
        `${created}${capped ? ` of ${sizes.open}` : ''} in ${createSeconds.toFixed(0)} s, ${(created / createSeconds).toFixed(1)}/s, ${failures} failed`,
        created / createSeconds,
      );
      row(
        'open: workers memory MB (PSS) before -> after',
        `${memBefore.workers.toFixed(0)} -> ${memAfter.workers.toFixed(0)}`,
        memAfter.workers,
      );
      row('open: worker MB per open payment', workerMbPerOpen.toFixed(3), workerMbPerOpen);
      row(
        'open: Temporal memory MB (PSS) before -> after',
        `${memBefore.temporal.toFixed(0)} -> ${memAfter.temporal.toFixed(0)}`,
        memAfter.temporal,
      );
      row('open: with them open, POST /payments', fmt(probe.createMs), probe.createMs.p50 ?? NaN);
      row(
        'open: with them open, callback -> order acked',
        fmt(probe.callbackToAckMs),
        probe.callbackToAckMs.p50 ?? NaN,
      );
    }
    out.restarts = Object.fromEntries(stack.supervisor.restarts);
  } finally {
    await connection.close();
    await stack.stop();
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  return { engine, rows, json: out, saturation: sat, shape, tierCpu };
}

/** The cluster with 1 worker + 1 API, against the default replicas measured already. */
async function measureScale(cluster: EngineRun): Promise<{ lines: string[]; json: Record<string, unknown> }> {
  const small = { workers: 1, apis: 1 };
  say(`==== scale: cluster with ${small.workers} worker + ${small.apis} API ====`);
  const stack = await stackFor('cluster', small);
  let sat: Saturation;
  let tierCpu: Record<string, number>;
  try {
    sat = await saturation(stack, 'scale');
    tierCpu = tiers(stack, sat.cpuMsPerPayment);
  } finally {
    await stack.stop();
  }
  const ms = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(1)).padStart(7);
  const big = cluster.shape!;
  const bigSat = cluster.saturation;
  const lines = [
    'SCALE on the cluster (more processes, same 2 cores: more processes cannot add cores here; what this shows is',
    'that the work spreads over the replicas and which process is the bottleneck):',
    `  ${small.workers} worker + ${small.apis} API:   ${spreadText(sat)} payments/s; ` +
      `the cores alone would hold ${spreadText(sat.cpuBound)}`,
    bigSat
      ? `  ${big.workers} workers + ${big.apis} API${big.apis > 1 ? 's' : ''}: ${spreadText(bigSat)} payments/s` +
        `  (x${(bigSat.median / sat.median).toFixed(2)}); the cores alone would hold ${spreadText(bigSat.cpuBound)}`
      : '  (the default replicas were not measured: run with the payments part)',
    `  CPU ms per payment at saturation, by tier (${small.workers} + ${small.apis}, then ${big.workers} + ${big.apis}):`,
    ...Object.keys({ ...tierCpu, ...(cluster.tierCpu ?? {}) }).map(
      (k) => `    ${k.padEnd(22)} ${ms(tierCpu[k])}   ${ms(cluster.tierCpu?.[k])}`,
    ),
  ];
  return {
    lines,
    json: {
      small: { shape: small, saturation: sat, tiers: tierCpu },
      default: { shape: big, medianPerSecond: bigSat?.median, tiers: cluster.tierCpu },
    },
  };
}

/** The bytes of the history of the last `n` payments (their workflows' event histories, as Temporal stores them). */
async function historyBytes(stack: RunStack, n = 20): Promise<number> {
  const ids = (await stack.knex('payments').orderBy('created_at', 'desc').limit(n).select('id')) as { id: string }[];
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection, dataConverter: stack.dataConverter });
    let bytes = 0;
    for (const { id } of ids) {
      const history = await client.workflow.getHandle(paymentWorkflowId(id)).fetchHistory();
      bytes += temporal.api.history.v1.History.encode(history).finish().length;
    }
    return ids.length ? bytes / ids.length : 0;
  } finally {
    await connection.close();
  }
}

async function measureCodec(encrypted: EngineRun): Promise<{ lines: string[]; json: Record<string, unknown> }> {
  say(`==== codec: ${encrypted.engine} with PAYLOAD_ENCRYPTION=off ====`);
  const runOne = async (env: Record<string, string>) => {
    const stack = await stackFor(encrypted.engine, undefined, env);
    try {
      const sat = await saturation(stack, `codec ${env.PAYLOAD_ENCRYPTION ?? 'on'}`);
      return { sat, bytes: await historyBytes(stack) };
    } finally {
      await stack.stop();
    }
  };
  // Both runs here, one after the other on the same box: the encrypted run of the engine part ran earlier, under
  // other load, so it is measured again beside the one in clear.
  const on = await runOne({});
  const off = await runOne({ PAYLOAD_ENCRYPTION: 'off' });
  const total = (sat: Saturation) => Object.values(sat.cpuMsPerPayment).reduce((a, b) => a + b, 0);
  const cpuOf = (sat: Saturation, pick: (name: string) => boolean) =>
    Object.entries(sat.cpuMsPerPayment)
      .filter(([name]) => pick(name))
      .reduce((a, [, v]) => a + v, 0);
  const ours = (name: string) => /^(worker|api)(-\d+)?$/.test(name);
  const lines = [
    `CODEC on ${encrypted.engine} (AES-256-GCM + deflate on every payload, against PAYLOAD_ENCRYPTION=off; same run):`,
    `  payments/s          encrypted ${spreadText(on.sat)}   in clear ${spreadText(off.sat)}   (x${(on.sat.median / off.sat.median).toFixed(2)})`,
    `  cores alone         encrypted ${spreadText(on.sat.cpuBound)}   in clear ${spreadText(off.sat.cpuBound)}`,
    `  CPU ms/payment      all ${total(on.sat).toFixed(1)} vs ${total(off.sat).toFixed(1)}; workers + APIs ${cpuOf(on.sat, ours).toFixed(1)} vs ${cpuOf(off.sat, ours).toFixed(1)}`,
    `  history bytes/payment (as stored) ${on.bytes.toFixed(0)} vs ${off.bytes.toFixed(0)}`,
  ];
  return {
    lines,
    json: {
      engine: encrypted.engine,
      encrypted: { saturation: on.sat, historyBytesPerPayment: on.bytes, cpuMsPerPayment: total(on.sat) },
      clear: { saturation: off.sat, historyBytesPerPayment: off.bytes, cpuMsPerPayment: total(off.sat) },
    },
  };
}

/** On paper: with a core per tier, the payments/s each tier holds from its measured CPU per payment. */
function projection(run: EngineRun): string[] {
  if (!run.tierCpu) return [];
  const entries = Object.entries(run.tierCpu).filter(([, v]) => v > 0);
  const total = entries.reduce((a, [, v]) => a + v, 0);
  const first = entries.reduce((a, b) => (b[1] > a[1] ? b : a));
  return [
    `PROJECTION (${run.engine}, from CPU ms per payment at saturation; the channel doubles and the load generator excluded):`,
    ...entries.map(
      ([k, v]) =>
        `  ${k.padEnd(22)} ${v.toFixed(1).padStart(6)} ms/payment -> one core holds ${(1000 / v).toFixed(0).padStart(4)} payments/s` +
        ` (${((v / total) * 100).toFixed(0)}% of the CPU)`,
    ),
    `  saturates first at one core per tier: ${first[0]} (${(1000 / first[1]).toFixed(0)} payments/s);` +
      ` all tiers together: ${total.toFixed(0)} ms/payment, ${(total / 10).toFixed(1)} cores per 100 payments/s`,
  ];
}

// ---- the run -----------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const toolchain = readToolchain();
  const version = (bin: string | null | undefined) => {
    try {
      return bin ? execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() : null;
    } catch {
      return null;
    }
  };
  const result: Record<string, unknown> = {
    at: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    label: args.label,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      temporalCli: version(toolchain.temporalCli),
      temporalServer: version(toolchain.temporalServer),
      sdk: (
        JSON.parse(readFileSync(join(projectRoot, 'node_modules/@temporalio/worker/package.json'), 'utf8')) as {
          version: string;
        }
      ).version,
      loadAverageBefore: loadavg(),
    },
    sizes,
  };
  const runs: EngineRun[] = [];
  for (const engine of engines) runs.push(await measureEngine(engine));
  const cluster = runs.find((r) => r.engine === 'cluster');
  let scale: Awaited<ReturnType<typeof measureScale>> | undefined;
  if (only.has('scale')) {
    if (cluster) scale = await measureScale(cluster);
    else say('scale: cluster only (--engine cluster); skipped');
  }
  const codec = only.has('codec') && runs[0] ? await measureCodec(runs[0]) : undefined;
  (result.machine as Record<string, unknown>).loadAverageAfter = loadavg();
  result.engines = Object.fromEntries(runs.map((r) => [r.engine, r.json]));
  if (scale) result.scale = scale.json;
  if (codec) result.codec = codec.json;

  // One column per engine; the ratio is cluster / dev.
  // Rows in each run's order: a row only one engine has goes after the row before it there.
  const keys: string[] = [];
  for (const r of runs) {
    let after = -1;
    for (const k of r.rows.keys()) {
      const at = keys.indexOf(k);
      if (at >= 0) after = at;
      else keys.splice(++after, 0, k);
    }
  }
  const dev = runs.find((r) => r.engine === 'dev');
  const cols = runs.map((r) => r.engine as string);
  const withRatio = dev && cluster;
  const table = keys.map((k) => {
    const cells = runs.map((r) => r.rows.get(k)?.text ?? '-');
    const a = dev?.rows.get(k)?.value;
    const b = cluster?.rows.get(k)?.value;
    const ratio = withRatio && a && b && Number.isFinite(a) && Number.isFinite(b) ? (b / a).toFixed(2) : '';
    return [k, ...cells, ...(withRatio ? [ratio] : [])];
  });
  const header = ['measure', ...cols, ...(withRatio ? ['cluster/dev'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    '  ' +
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const m = result.machine as Record<string, unknown>;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  process.stdout.write(
    [
      '',
      `BENCHMARK ${args.label ? `(${args.label}) ` : ''}on ${m.cores} cores (${m.cpu}), Node ${m.node}, ` +
        `${m.temporalCli} / ${m.temporalServer}, SDK ${m.sdk}; load average ${load(m.loadAverageBefore as number[])}` +
        ` before, ${load(m.loadAverageAfter as number[])} after`,
      line(header),
      ...table.map(line),
      '',
      ...runs.flatMap((r) => [...projection(r), '']),
      ...(scale ? [...scale.lines, ''] : []),
      ...(codec ? [...codec.lines, ''] : []),
    ].join('\n'),
  );
  const file = join(projectRoot, 'bench', 'results', `bench-${String(result.at).replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(projectRoot, 'bench', 'results'), { recursive: true });
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`written to ${file} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}

function fmt(s: Summary): string {
  const f = (v: number | null) => (v === null ? '-' : v.toFixed(0));
  return `n=${s.n}  p50 ${f(s.p50)}  p95 ${f(s.p95)}  p99 ${f(s.p99)}  max ${f(s.max)} ms`;
}

async function metricSnapshot(stack: RunStack) {
  return {
    workerStatements: await scrapeSum(stack.urls.workersMetrics, 'payments_db_statements_total'),
    apiStatements: await scrapeSum(
      stack.urls.apis.map((u) => `${u}/metrics`),
      'payments_db_statements_total',
    ),
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
