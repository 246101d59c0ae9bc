// npm run bench [-- --quick] [-- --only baseline,payments,latency,lost,cost,scale] [-- --open 20000]
//               [-- --scale-minutes 20] [-- --worker-env NAME=value ...] [-- --label text]
// Measures the service on a stack of its own, against the engine's own limit on the same Temporal server, and
// prints a table (JSON under bench/results/):
//   1. baseline  workflows with one no-op activity, started as fast as the server takes them: completed/s
//   2. payments  full payments (API create, wallet pay, callback, order acknowledged) at rising offered rates
//                until saturation: sustained payments/s, and its ratio to the baseline
//   3. latency   at 50% of the saturated rate: POST /payments and callback received -> order acknowledged
//   4. lost      every callback dropped: channel success -> order paid (tracks the first query interval)
//   5. cost      per payment: history events, SQL statements, worker / API / Temporal server CPU ms
//   6. scale     N payments left open on their timers: memory before and after, time to create them, and the
//                latency of new payments with them open
// Everything runs on this machine: the load generator shares the cores with what it measures (reported).
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { paymentWorkflowId } from '../workflows/definitions';
import { summarize, type Summary } from './chaos/audit';
import { type RunStack, startRunStack } from './stack/run-stack';
import { projectRoot, readToolchain } from './stack/toolchain';

const PARTS = ['baseline', 'payments', 'latency', 'lost', 'cost', 'scale'] as const;
type Part = (typeof PARTS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    baseline: { type: 'string' },
    rates: { type: 'string' },
    window: { type: 'string' },
    open: { type: 'string' },
    'scale-minutes': { type: 'string' },
    lost: { type: 'string' },
    'worker-env': { type: 'string', multiple: true, default: [] },
    label: { type: 'string', default: '' },
  },
});
const quick = args.quick!;
const only = new Set<Part>((args.only?.split(',') ?? PARTS) as Part[]);
for (const p of only) if (!PARTS.includes(p)) throw new Error(`unknown part "${p}"; parts: ${PARTS.join(', ')}`);
const sizes = {
  baseline: Number(args.baseline ?? (quick ? 300 : 2000)),
  rates: (args.rates ?? (quick ? '4,8,16' : '2,4,6,8,12,16,24,32')).split(',').map(Number),
  windowS: Number(args.window ?? (quick ? 8 : 20)),
  open: Number(args.open ?? (quick ? 500 : 20_000)),
  /** Creating the open payments stops here, so the run ends even where the box cannot take N. */
  scaleMinutes: Number(args['scale-minutes'] ?? (quick ? 3 : 20)),
  lost: Number(args.lost ?? (quick ? 4 : 12)),
};

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

/** CPU ms and RSS MB of a process (the Temporal dev server), from /proc. */
function procStats(pid: number): { cpuMs: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]); // utime + stime, fields 14 and 15
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / 100, rssMb: rssKb / 1024 };
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

// ---- the run -----------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const toolchain = readToolchain();
  const workerEnv = Object.fromEntries(
    (args['worker-env'] ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  for (const name of Object.keys(workerEnv)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`--worker-env wants NAME=value, got "${name}"`);
  }
  const stack = await startRunStack({
    name: 'payments-bench',
    taskQueue: 'payments-bench',
    say,
    env: { PAYMENT_EXPIRY: '3h', RECONCILE_SCHEDULES: 'false', ...workerEnv },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping the stack`);
      void stack.stop().finally(() => process.exit(130));
    });
  }
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  const result: Record<string, unknown> = {
    at: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    label: args.label,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      temporal: execFileSync(toolchain.temporalCli, ['--version'], { encoding: 'utf8' }).trim(),
      sdk: (
        JSON.parse(readFileSync(join(projectRoot, 'node_modules/@temporalio/worker/package.json'), 'utf8')) as {
          version: string;
        }
      ).version,
      postgres: ((await stack.knex.raw('show server_version')) as { rows: { server_version: string }[] }).rows[0]!
        .server_version,
      workerEnv,
    },
    sizes,
  };
  const rows: [string, string][] = [];
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
      result.baseline = { workflows: sizes.baseline, startedPerSecond, completedPerSecond: baselinePerSecond };
      rows.push([
        'baseline: no-op workflows completed/s',
        `${baselinePerSecond.toFixed(1)} (started ${startedPerSecond.toFixed(1)}/s)`,
      ]);
      say(`baseline: ${baselinePerSecond.toFixed(1)} workflows/s`);
    }

    // 2. Rising offered rates until saturation.
    let sustained = NaN;
    if (only.has('payments')) {
      const steps: Omit<Offered, 'paymentIds'>[] = [];
      for (const rate of sizes.rates) {
        say(`payments: offering ${rate}/s for ${sizes.windowS} s...`);
        const { paymentIds: _ids, ...r } = await offered(stack, rate, sizes.windowS);
        steps.push(r);
        say(
          `  ${r.acknowledged}/${r.offered} acknowledged, achieved ${r.achievedPerSecond.toFixed(1)}/s, ` +
            `callback->ack p95 ${r.callbackToAckMs.p95} ms, POST p95 ${r.createMs.p95?.toFixed(0)} ms`,
        );
        if (saturated(r)) break;
        sustained = r.achievedPerSecond;
      }
      if (Number.isNaN(sustained)) sustained = steps[0]?.achievedPerSecond ?? NaN;
      result.payments = { steps, sustainedPerSecond: sustained, ratioToBaseline: sustained / baselinePerSecond };
      rows.push(['payments: sustained payments/s', sustained.toFixed(1)]);
      rows.push(['payments/s / baseline workflows/s', (sustained / baselinePerSecond).toFixed(3)]);
      for (const s of steps) {
        rows.push([
          `  offered ${s.offeredPerSecond}/s`,
          `achieved ${s.achievedPerSecond.toFixed(1)}/s, ${s.acknowledged}/${s.offered} acked, cb->ack p95 ${s.callbackToAckMs.p95} ms${saturated(s) ? '  (saturated)' : ''}`,
        ]);
      }
    }

    // 3 + 5. Latency at half the saturated rate, and what each payment costs.
    const latencyRate = Number.isNaN(sustained) ? 4 : Math.max(1, Math.round(sustained / 2));
    let latency: Offered | undefined;
    if (only.has('latency') || only.has('cost')) {
      const before = await costSnapshot(stack);
      say(`latency: ${latencyRate}/s for ${sizes.windowS * 1.5} s...`);
      latency = await offered(stack, latencyRate, sizes.windowS * 1.5);
      const after = await costSnapshot(stack);
      const n = latency.acknowledged;
      result.latency = {
        ratePerSecond: latencyRate,
        createMs: latency.createMs,
        callbackToAckMs: latency.callbackToAckMs,
      };
      rows.push([`latency at ${latencyRate}/s: POST /payments`, fmt(latency.createMs)]);
      rows.push([`latency at ${latencyRate}/s: callback -> order acked`, fmt(latency.callbackToAckMs)]);
      if (only.has('cost')) {
        const sample = latency.paymentIds.slice(0, 20);
        const events = await Promise.all(
          sample.map(
            async (id) => (await client.workflow.getHandle(paymentWorkflowId(id)).fetchHistory()).events?.length ?? 0,
          ),
        );
        const per = (k: keyof typeof before) => (after[k] - before[k]) / n;
        const cost = {
          historyEvents: events.reduce((a, b) => a + b, 0) / events.length,
          sqlStatements: per('workerStatements') + per('apiStatements'),
          sqlStatementsWorker: per('workerStatements'),
          sqlStatementsApi: per('apiStatements'),
          workerCpuMs: per('workerCpuMs'),
          apiCpuMs: per('apiCpuMs'),
          temporalServerCpuMs: per('serverCpuMs'),
          benchProcessCpuMs: per('benchCpuMs'),
        };
        result.cost = cost;
        rows.push(['cost/payment: history events', cost.historyEvents.toFixed(1)]);
        rows.push([
          'cost/payment: SQL statements (worker + API)',
          `${cost.sqlStatements.toFixed(1)} (${cost.sqlStatementsWorker.toFixed(1)} + ${cost.sqlStatementsApi.toFixed(1)})`,
        ]);
        rows.push(['cost/payment: worker CPU ms', cost.workerCpuMs.toFixed(1)]);
        rows.push(['cost/payment: API CPU ms', cost.apiCpuMs.toFixed(1)]);
        rows.push(['cost/payment: Temporal server CPU ms', cost.temporalServerCpuMs.toFixed(1)]);
        rows.push(['cost/payment: load generator CPU ms', cost.benchProcessCpuMs.toFixed(1)]);
      }
    }

    // 4. Lost callbacks: only the query finds the payment.
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
      result.lostCallback = {
        payments: ids.length,
        resolvedBy: rowsLost.rows.map((r) => r.resolved_by),
        channelSuccessToOrderPaidMs: recovery,
      };
      rows.push(['lost callback: channel success -> order paid', fmt(recovery)]);
    }

    // 6. Many payments open on their timers.
    if (only.has('scale')) {
      const pid = stack.temporal.process.pid!;
      const memBefore = { worker: await workerRssMb(stack), server: procStats(pid).rssMb };
      say(
        `scale: creating ${sizes.open} payments that stay open on their timers (at most ${sizes.scaleMinutes} min)...`,
      );
      const started = Date.now();
      const capAt = started + sizes.scaleMinutes * 60_000;
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
      if (capped) say(`scale: stopped at the ${sizes.scaleMinutes} min cap with ${created} open`);
      const createSeconds = (Date.now() - started) / 1000;
      await sleep(5000);
      const memAfter = { worker: await workerRssMb(stack), server: procStats(pid).rssMb };
      say(`scale: latency of new payments with ${created} open...`);
      const probe = await offered(stack, latencyRate, sizes.windowS);
      result.scale = {
        requested: sizes.open,
        open: created,
        cappedAfterMinutes: capped ? sizes.scaleMinutes : null,
        failures,
        createSeconds,
        createdPerSecond: created / createSeconds,
        creationWindows: windows,
        memoryMb: { before: memBefore, after: memAfter },
        latencyWithOpen: {
          ratePerSecond: latencyRate,
          createMs: probe.createMs,
          callbackToAckMs: probe.callbackToAckMs,
        },
        latencyWithout: latency ? { createMs: latency.createMs, callbackToAckMs: latency.callbackToAckMs } : null,
      };
      const lastWindow = windows.at(-1)?.perSecond;
      rows.push([
        `scale: ${created}${capped ? ` of ${sizes.open}` : ''} open payments created in`,
        `${createSeconds.toFixed(0)} s (${(created / createSeconds).toFixed(1)}/s overall` +
          `${lastWindow === undefined ? '' : `, ${lastWindow.toFixed(1)}/s at the end`}, ${failures} failed` +
          `${capped ? `, stopped at the ${sizes.scaleMinutes} min cap` : ''})`,
      ]);
      rows.push([
        'scale: worker RSS MB before -> after',
        `${memBefore.worker.toFixed(0)} -> ${memAfter.worker.toFixed(0)}`,
      ]);
      rows.push([
        'scale: Temporal server RSS MB before -> after',
        `${memBefore.server.toFixed(0)} -> ${memAfter.server.toFixed(0)}`,
      ]);
      rows.push([`scale: with them open, POST /payments`, fmt(probe.createMs)]);
      rows.push([`scale: with them open, callback -> order acked`, fmt(probe.callbackToAckMs)]);
    }
  } finally {
    await connection.close();
    await stack.stop();
  }

  const width = Math.max(...rows.map(([k]) => k.length));
  const m = result.machine as Record<string, unknown>;
  process.stdout.write(
    [
      '',
      `BENCHMARK ${args.label ? `(${args.label}) ` : ''}on ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.temporal}, SDK ${m.sdk}, PostgreSQL ${m.postgres}`,
      ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
      '',
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

async function workerRssMb(stack: RunStack): Promise<number> {
  return ((await scrape(stack.urls.workerMetrics)).get('process_resident_memory_bytes') ?? 0) / 2 ** 20;
}

async function costSnapshot(stack: RunStack) {
  const worker = await scrape(stack.urls.workerMetrics);
  const api = await scrape(`${stack.urls.api}/metrics`);
  const usage = process.cpuUsage();
  return {
    workerStatements: worker.get('payments_db_statements_total') ?? 0,
    apiStatements: api.get('payments_db_statements_total') ?? 0,
    workerCpuMs: (worker.get('process_cpu_seconds_total') ?? 0) * 1000,
    apiCpuMs: (api.get('process_cpu_seconds_total') ?? 0) * 1000,
    serverCpuMs: procStats(stack.temporal.process.pid!).cpuMs,
    benchCpuMs: (usage.user + usage.system) / 1000,
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
