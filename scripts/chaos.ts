// npm run chaos -- --payments 200 --seed chaos-1 [--channels sandboxpay,wechatpay,alipay,stripe] [--engine cluster]
// Starts the whole stack with short schedules and expiries, sends payments through it like shops and buyers would
// (spread over the channels, all of them by default), and breaks things at the same time: every channel's double
// drops, duplicates, delays and reorders callbacks, fails and hangs
// queries, leaves payments stuck, races closes with payments and settles some closed payments late; the order
// service fails 10% of calls and has a one-minute outage; the worker is SIGKILLed every ~20 s, the API once, and
// the Temporal dev server is stopped and restarted on the same SQLite file, and an operator terminates a few
// payment workflows by mistake. On the cluster engine (--engine cluster: Temporal's four services on PostgreSQL, two
// workers, two API replicas behind the balancer) the Temporal faults are those of a cluster instead: the history,
// matching and frontend services SIGKILLed (the supervisor restarts each), Temporal's PostgreSQL restarted, one of
// the two workers killed for good (the other takes all the work), and one API replica SIGKILLed while buyers pay
// through both. Then it audits the three sources of
// truth (the channel, our table, the order service), prints the report, writes it as JSON, and exits non-zero
// when any invariant is broken.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { Chance } from '../sandbox/chance';
import { paymentWorkflowId } from '../workflows/definitions';
import { DECIDED_STATUSES } from '../workflows/states';
import type { ReconcileInput, ReconcileResult } from '../workflows/reconcile';
import { audit, type AuditReport, type OrderRecord } from './chaos/audit';
import type { ChaosChannelRecord } from './chaos/channels';
import { startRunStack } from './stack/run-stack';
import { ENGINES, type Engine, TEMPORAL_DB_PROCESS } from './stack/cluster-engine';
import { processName } from './stack/temporal-cluster';
import { projectRoot } from './stack/toolchain';

const { values: args } = parseArgs({
  options: {
    payments: { type: 'string', default: '200' },
    seed: { type: 'string', default: 'chaos-1' },
    report: { type: 'string' },
    keep: { type: 'boolean', default: false },
    channels: { type: 'string' },
    engine: { type: 'string', default: 'dev' },
  },
});
const engine = args.engine as Engine;
const N = Number(args.payments);
const seed = args.seed!;
if (!Number.isInteger(N) || N < 1 || !ENGINES.includes(engine)) {
  process.stderr.write(
    `usage: npm run chaos -- --payments N --seed S [--channels a,b,...] [--engine ${ENGINES.join('|')}] [--report file.json] [--keep]\n`,
  );
  process.exit(2);
}

const S = 1000;
const EXPIRY_MS = 30 * S;
const LATE_WINDOW_MS = 20 * S;
const ARRIVAL_WINDOW_MS = Math.max(30 * S, N * 300);
const FAULTS = {
  SANDBOX_CALLBACK_DROP_RATE: '0.3',
  SANDBOX_CALLBACK_DUPLICATE_RATE: '0.2',
  SANDBOX_CALLBACK_DELAY_RATE: '0.3',
  SANDBOX_CALLBACK_DELAY_MAX_MS: '5000',
  SANDBOX_QUERY_ERROR_RATE: '0.2',
  SANDBOX_QUERY_TIMEOUT_RATE: '0.05',
  SANDBOX_STUCK_PENDING_RATE: '0.05',
  SANDBOX_CLOSE_RACE_PAY_RATE: '0.1',
  SANDBOX_LATE_SETTLE_RATE: '0.1',
  ORDER_SERVICE_ERROR_RATE: '0.1',
};

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
const say = (msg: string) => process.stderr.write(`[chaos ${elapsed()}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chance = new Chance(`buyers:${seed}`);

interface Buyer {
  index: number;
  channel: string;
  decision: 'pay' | 'decline' | 'abandon';
  /** The shop cancels the order just before the buyer pays (the order service will refuse the money). */
  shopCancels: boolean;
  orderId?: string;
  paymentId?: string;
  outcome?: string;
}

const chaosEvents: { at: string; what: string }[] = [];
let stopping = false;
/** Stops everything this run started; set once the stack is up. */
let cleanup: () => Promise<void> = async () => undefined;
const note = (what: string) => {
  chaosEvents.push({ at: elapsed(), what });
  say(what);
};

async function http(
  url: string,
  init?: RequestInit & { timeoutMs?: number },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init?.timeoutMs ?? 10_000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

/** What a real client does: retry with the same Idempotency-Key on 5xx and network errors. */
async function retrying<T>(what: string, fn: () => Promise<T | undefined>, forMs = 90_000): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch {
      // network error: retry
    }
    if (Date.now() > deadline) throw new Error(`${what}: gave up after ${forMs / 1000} s`);
    await sleep(1000);
  }
}

async function main(): Promise<void> {
  say(`${N} payments, seed ${seed}, engine ${engine}`);
  const stack = await startRunStack({
    engine,
    name: 'payments-chaos',
    taskQueue: 'payments-chaos',
    say,
    seed,
    // Stripe's double (localstripe) has no faults of its own: the fault proxy plays the same ones on both its sides.
    stripeFaults: {
      callbackDropRate: Number(FAULTS.SANDBOX_CALLBACK_DROP_RATE),
      callbackDuplicateRate: Number(FAULTS.SANDBOX_CALLBACK_DUPLICATE_RATE),
      callbackDelayRate: Number(FAULTS.SANDBOX_CALLBACK_DELAY_RATE),
      callbackDelayMaxMs: Number(FAULTS.SANDBOX_CALLBACK_DELAY_MAX_MS),
      queryErrorRate: Number(FAULTS.SANDBOX_QUERY_ERROR_RATE),
      queryTimeoutRate: Number(FAULTS.SANDBOX_QUERY_TIMEOUT_RATE),
    },
    env: {
      PAYMENT_QUERY_SCHEDULE: '1s,2s,3s,5s',
      PAYMENT_EXPIRY: `${EXPIRY_MS / S}s`,
      LATE_CALLBACK_WINDOW: `${LATE_WINDOW_MS / S}s`,
      ORDER_NOTIFY_INITIAL_BACKOFF: '500ms',
      ORDER_NOTIFY_MAX_BACKOFF: '5s',
      CHANNEL_TIMEOUT: '2s',
      RECONCILE_INTERVAL: '10s',
      RECONCILE_MIN_AGE: '20s',
      STATEMENT_INTERVAL: '1m',
      STATEMENT_LOOKBACK: '1h',
      SANDBOX_SEED: seed,
      SANDBOX_CALLBACK_RETRY_SCALE: '0.1',
      ...FAULTS,
    },
  });
  const { supervisor, knex } = stack;
  const { api, orders } = stack.urls;
  const channelNames = args.channels ? args.channels.split(',').map((c) => c.trim()) : Object.keys(stack.channels);
  const unknown = channelNames.filter((c) => !stack.channels[c]);
  if (unknown.length > 0 || channelNames.length === 0) {
    throw new Error(
      `unknown channel(s) ${unknown.join(', ')}; this stack has ${Object.keys(stack.channels).join(', ')}`,
    );
  }
  say(`channels: ${channelNames.join(', ')}`);
  say(
    `stack up; faults ${Object.entries(FAULTS)
      .map(([k, v]) => `${k.replace(/^(SANDBOX|ORDER_SERVICE)_/, '')}=${v}`)
      .join(' ')}`,
  );
  cleanup = async () => {
    stopping = true;
    await stack.stop(args.keep);
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

  // ---- the chaos ---------------------------------------------------------------------------------------------
  const loadStart = Date.now();
  const chaosUntil = loadStart + ARRIVAL_WINDOW_MS + EXPIRY_MS;
  const chaos = (async () => {
    const at = (fraction: number) => loadStart + fraction * ARRIVAL_WINDOW_MS;
    const plan = [
      {
        when: at(0.3),
        what: 'order service outage (60 s)',
        act: () =>
          http(`${orders}/admin/faults`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ outageForMs: 60_000 }),
          }),
      },
      // Both engines: the order service's outage above, an API process SIGKILLed, workflows terminated by mistake.
      {
        when: at(0.45),
        what: stack.services.apis.length > 1 ? `API replica ${stack.services.apis[0]} SIGKILLed` : 'API SIGKILLed',
        act: async () => supervisor.process(stack.services.apis[0]!)?.kill('SIGKILL'),
      },
      {
        when: at(0.5),
        what: 'an operator terminates some payment workflows by mistake (reconciliation must restart them)',
        act: async () => {
          const paying = (await knex('payments').where({ status: 'PAYING' }).orderBy('created_at').select('id')) as {
            id: string;
          }[];
          const victims = paying.filter((_, i) => i % 10 === 0).slice(0, Math.max(1, Math.ceil(N / 50)));
          const connection = await Connection.connect({ address: stack.temporal.address });
          const client = new Client({ connection });
          for (const v of victims)
            await client.workflow
              .getHandle(paymentWorkflowId(v.id))
              .terminate('chaos: operator mistake')
              .catch(() => undefined);
          await connection.close();
          note(`terminated ${victims.length} payment workflows`);
        },
      },
      ...(engine === 'dev'
        ? [
            {
              when: at(0.6),
              what: 'Temporal dev server stopped (restarting on the same SQLite file in 5 s)',
              act: async () => {
                await stack.restartTemporal(5000);
                note('Temporal dev server back');
              },
            },
          ]
        : [
            ...(['history', 'matching', 'frontend'] as const).map((service, i) => ({
              when: at(0.2 + i * 0.2),
              what: `Temporal ${service} service SIGKILLed (the supervisor restarts it)`,
              act: async () => {
                supervisor.process(processName(service))?.kill('SIGKILL');
              },
            })),
            {
              when: at(0.55),
              what: `${stack.services.workers.at(-1)} killed for good (SIGKILL, not restarted: the other worker takes all the work)`,
              act: () => supervisor.kill(stack.services.workers.at(-1)!, 'SIGKILL'),
            },
            {
              when: at(0.7),
              what: "Temporal's PostgreSQL stopped (restarting on the same data in 5 s)",
              act: async () => {
                await supervisor.restart(TEMPORAL_DB_PROCESS, 5000, 30_000);
                note("Temporal's PostgreSQL back");
              },
            },
          ]),
    ];
    let nextKill = loadStart + 5 * S;
    let k = 0;
    while (!stopping && Date.now() < chaosUntil) {
      const due = plan.filter((p) => p.when <= Date.now());
      for (const p of due) {
        plan.splice(plan.indexOf(p), 1);
        note(p.what);
        await p.act();
      }
      if (Date.now() >= nextKill) {
        // One of the workers still supervised (after one is killed for good, always the one left).
        const alive = stack.services.workers.filter((w) => supervisor.snapshot()[w]?.state === 'running');
        const name = alive[k % Math.max(1, alive.length)];
        const worker = name ? supervisor.process(name) : undefined;
        if (worker?.exitCode === null && worker.signalCode === null) {
          worker.kill('SIGKILL');
          note(`${name} SIGKILLed (#${++k})`);
        }
        nextKill = Date.now() + 15 * S + chance.between(0, 10_000, 'kill', String(k));
      }
      await sleep(250);
    }
  })();

  // ---- the buyers --------------------------------------------------------------------------------------------
  const buyers: Buyer[] = Array.from({ length: N }, (_, index) => {
    const u = chance.unit('decision', String(index));
    return {
      index,
      channel: channelNames[index % channelNames.length]!,
      decision: u < 0.7 ? 'pay' : u < 0.8 ? 'decline' : 'abandon',
      shopCancels: chance.happens(0.05, 'shop-cancels', String(index)),
    };
  });

  async function shopAndBuyer(b: Buyer): Promise<void> {
    await sleep((b.index / N) * ARRIVAL_WINDOW_MS);
    const amount = 100 + chance.between(0, 99_900, 'amount', String(b.index));
    const order = await retrying('create order', async () => {
      const r = await http(`${orders}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId: `chaos-${seed}-${b.index}`, amount, currency: 'CNY' }),
      });
      return r.status < 300 ? r.body : undefined;
    });
    b.orderId = String(order.orderId);
    const key = randomUUID();
    let payment = await retrying('POST /payments', async () => {
      const r = await http(`${api}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ orderId: b.orderId, amount, currency: 'CNY', channel: b.channel }),
      });
      if (r.status >= 500) return undefined;
      if (r.status >= 400) throw new Error(`POST /payments answered ${r.status}: ${JSON.stringify(r.body)}`);
      return r.body;
    });
    b.paymentId = String(payment.paymentId);
    if (!payment.handoff) {
      payment = await retrying(
        'what the buyer pays with',
        async () => {
          const r = await http(`${api}/payments/${b.paymentId}`);
          return r.status === 200 && (r.body.handoff || r.body.status !== 'UNPAID') ? r.body : undefined;
        },
        60_000,
      );
    }
    if (b.decision === 'abandon' || !payment.handoff) {
      b.outcome = 'abandoned';
      return;
    }
    await sleep(1000 + chance.between(0, 7000, 'think', String(b.index)));
    if (b.decision === 'pay' && b.shopCancels) await http(`${orders}/orders/${b.orderId}/cancel`, { method: 'POST' });
    // The buyer's page is the channel's, not ours: one that fails or hangs (Stripe's test checkout goes through the
    // fault proxy too) leaves a buyer who gave up, as a real one would, not an error of this run.
    b.outcome = await stack.channels[b.channel]!.act(payment, b.decision).catch(
      (err: unknown) => `${b.decision}: gave up (${err instanceof Error ? err.message : String(err)})`,
    );
  }

  let failedBuyers = 0;
  const progress = setInterval(() => void reportProgress(), 5000);
  async function reportProgress(): Promise<void> {
    const rows = (await knex('payments')
      .select('status')
      .count({ n: '*' })
      .groupBy('status')
      .catch(() => [])) as { status: string; n: number }[];
    const byStatus = rows.map((r) => `${r.status} ${r.n}`).join(', ');
    say(`payments: ${byStatus || 'none yet'}; buyers done ${buyers.filter((b) => b.outcome).length}/${N}`);
  }
  await Promise.all(
    buyers.map((b) =>
      shopAndBuyer(b).catch((err: unknown) => {
        failedBuyers++;
        b.outcome = `client error: ${err instanceof Error ? err.message : String(err)}`;
      }),
    ),
  );
  say(`all ${N} buyers done (${failedBuyers} client errors); waiting for expiries and late windows`);
  await chaos;

  // ---- settle, then run the statement reconciliation once more, and settle again --------------------------------
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection });
  /**
   * Nothing open in our table, nothing unacknowledged, and no payment workflow still running: a final payment's
   * workflow keeps watching through its late window, and a success it finds there (or one the statement run's requery
   * makes it find) is refunded only then; the audit must not judge before.
   */
  const settled = async () => {
    const running = await client.workflow
      .count(`WorkflowType = 'paymentWorkflow' AND ExecutionStatus = 'Running'`)
      .then((c) => c.count)
      .catch(() => 1); // Temporal not answering: not settled yet
    if (running > 0) return false;
    const open = await knex('payments').whereIn('status', ['UNPAID', 'PAYING', 'REFUNDING']).count({ n: '*' }).first();
    const unacked = await knex('payments')
      .whereIn('status', DECIDED_STATUSES)
      .whereNull('order_notified_at')
      .count({ n: '*' })
      .first();
    return Number(open?.n ?? 0) === 0 && Number(unacked?.n ?? 0) === 0;
  };
  const settle = async (what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await settled()) && Date.now() < deadline) await sleep(2000);
    say(`${what}: ${(await settled()) ? 'settled' : 'NOT settled before the deadline'}`);
  };
  await sleep(LATE_WINDOW_MS);
  await settle('after the late windows', 180_000);
  const reconcile = (input: ReconcileInput) =>
    client.workflow.execute<(i: ReconcileInput) => Promise<ReconcileResult>>('reconcileWorkflow', {
      taskQueue: 'payments-chaos',
      workflowId: `chaos-reconcile-${input.task}-${Date.now()}`,
      args: [input],
    });
  const statement = await reconcile({ task: 'statement', channels: channelNames, lookbackMs: 3_600_000 });
  const statements = statement.statements ?? [];
  const total = (pick: (s: (typeof statements)[number]) => number) => statements.reduce((n, s) => n + pick(s), 0);
  const s0 = {
    entries: total((s) => s.entries),
    repaired: total((s) => s.repaired.length),
    lateSuccesses: total((s) => s.lateSuccesses.length),
    unknownAtChannel: total((s) => s.unknownAtChannel.length),
    notAtChannel: total((s) => s.notAtChannel.length),
  };
  say(
    `statement reconciliation (${statements.length} channels): ${s0.entries} paid at the channels; repaired ${s0.repaired}, late successes ${s0.lateSuccesses}, unknown ${s0.unknownAtChannel}, not at channel ${s0.notAtChannel}`,
  );
  await settle('after the statement run', 120_000);
  clearInterval(progress);
  await connection.close();

  // ---- audit ---------------------------------------------------------------------------------------------------
  const channelRecords = new Map<string, ChaosChannelRecord[]>();
  for (const name of channelNames) channelRecords.set(name, await stack.channels[name]!.records());
  const channel = [...channelRecords.values()].flat();
  const orderRecords = (await http(`${orders}/orders`, { timeoutMs: 30_000 })).body as unknown as OrderRecord[];
  const payments = await knex('payments').select(
    'id',
    'channel',
    'order_id',
    'status',
    'resolved_by',
    'expires_at',
    'finalized_at',
    'order_notified_at',
  );
  const events = await knex('payment_events').select('payment_id', 'type');
  const report: AuditReport = audit({
    channel,
    payments,
    orders: orderRecords,
    events,
    now: new Date(),
    graceMs: 120_000,
  });
  // Per channel: the same audit over its payments, their orders and its records (callback -> order paid by path).
  const perChannel = Object.fromEntries(
    channelNames.map((name) => {
      const mine = payments.filter((p: { channel: string }) => p.channel === name);
      const orderIds = new Set(mine.map((p: { order_id: string }) => p.order_id));
      const r = audit({
        channel: channelRecords.get(name) ?? [],
        payments: mine,
        orders: orderRecords.filter((o) => orderIds.has(o.orderId)),
        events,
        now: new Date(),
        graceMs: 120_000,
      });
      return [
        name,
        {
          payments: mine.length,
          byStatus: r.counts.byStatus,
          totalViolations: r.totalViolations,
          channelSuccessToOrderPaidMs: r.channelSuccessToOrderPaidMs,
        },
      ];
    }),
  );
  const callbacks = channel.flatMap((c) => c.deliveries ?? []);
  // What each API replica served since its last start (payments created and callbacks taken: the balancer spread the
  // buyers and the channels over both), and where each process ended (a worker killed for good stays stopped).
  const replicaTraffic = Object.fromEntries(
    await Promise.all(stack.urls.apis.map(async (url, i) => [stack.services.apis[i]!, await servedBy(url)] as const)),
  );
  const processes = Object.fromEntries(Object.entries(supervisor.snapshot()).map(([name, p]) => [name, p.state]));
  const full = {
    at: new Date().toISOString(),
    command: `npm run chaos -- --payments ${N} --seed ${seed}${args.channels ? ` --channels ${args.channels}` : ''}${engine === 'dev' ? '' : ` --engine ${engine}`}`,
    engine,
    topology: { temporal: stack.temporalProcesses, workers: stack.services.workers, apis: stack.services.apis },
    channels: channelNames,
    machine: { cores: cpus().length, node: process.version },
    durationSeconds: Math.round((Date.now() - t0) / 1000),
    payments: N,
    seed,
    faults: FAULTS,
    chaosEvents,
    restarts: Object.fromEntries(supervisor.restarts),
    processes,
    replicaTraffic,
    buyers: buyers.reduce<Record<string, number>>((acc, b) => {
      const k = (b.outcome ?? 'unknown').replace(/: .*/, (m) => (m.startsWith(': refused') ? ': refused' : m));
      return { ...acc, [k]: (acc[k] ?? 0) + 1 };
    }, {}),
    callbackDeliveries: {
      total: callbacks.length,
      notAccepted: callbacks.filter((d) => !(d.accepted ?? (d.httpStatus >= 200 && d.httpStatus < 300))).length,
    },
    statement: {
      repaired: s0.repaired,
      lateSuccesses: s0.lateSuccesses,
      unknownAtChannel: s0.unknownAtChannel,
      notAtChannel: s0.notAtChannel,
    },
    perChannel,
    ...report,
  };
  const reportFile =
    args.report ?? join(projectRoot, 'bench', 'results', `chaos-${full.at.replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(reportFile, '..'), { recursive: true });
  writeFileSync(reportFile, JSON.stringify(full, null, 2) + '\n');
  printReport(full);
  process.stdout.write(`report written to ${reportFile}${args.keep ? `; run directory kept: ${stack.dir}` : ''}\n`);
  await cleanup();
  process.exit(report.totalViolations === 0 && failedBuyers === 0 ? 0 : 1);
}

/** payments_created_total + payments_callbacks_total on an API process's /metrics (-1: it does not answer). */
async function servedBy(apiUrl: string): Promise<number> {
  try {
    const text = await (await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    return text
      .split('\n')
      .filter((l) => /^payments_(created|callbacks)_total[{ ]/.test(l))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  } catch {
    return -1;
  }
}

function printReport(
  r: AuditReport & {
    payments: number;
    durationSeconds: number;
    chaosEvents: { what: string }[];
    restarts: Record<string, number>;
    processes: Record<string, string>;
    replicaTraffic: Record<string, number>;
    buyers: Record<string, number>;
    perChannel: Record<
      string,
      {
        payments: number;
        totalViolations: number;
        channelSuccessToOrderPaidMs: AuditReport['channelSuccessToOrderPaidMs'];
      }
    >;
  },
): void {
  const fmt = (s: { n: number; p50: number | null; p95: number | null; p99: number | null; max: number | null }) =>
    `n=${String(s.n).padStart(4)}  p50 ${s.p50 ?? '-'}  p95 ${s.p95 ?? '-'}  p99 ${s.p99 ?? '-'}  max ${s.max ?? '-'} ms`;
  const lines = [
    '',
    `CHAOS REPORT: ${r.payments} payments in ${r.durationSeconds} s`,
    `  chaos: ${r.chaosEvents.length} events; process restarts ${JSON.stringify(r.restarts)}`,
    `  processes at the end: ${JSON.stringify(r.processes)}`,
    `  served per API process (payments created + callbacks since its last start): ${JSON.stringify(r.replicaTraffic)}`,
    `  buyers: ${JSON.stringify(r.buyers)}`,
    `  our payments by status: ${JSON.stringify(r.counts.byStatus)}`,
    `  channel by status: ${JSON.stringify(r.counts.channelByStatus)}; orders paid: ${r.counts.ordersPaid}`,
    '  invariants:',
    ...Object.entries(r.violations).map(
      ([k, list]) =>
        `    ${list.length === 0 ? 'ok  ' : 'FAIL'} ${k.padEnd(26)} ${list.length}${list.length ? `  ${list.slice(0, 5).join(', ')}` : ''}`,
    ),
    `  late successes: ${r.lateSuccesses.payments}, now ${JSON.stringify(r.lateSuccesses.outcomes)}`,
    '  per channel (payments, violations; channel success -> order paid by callback):',
    ...Object.entries(r.perChannel).map(
      ([name, c]) =>
        `    ${name.padEnd(11)} ${String(c.payments).padStart(4)} payments, ${c.totalViolations} violations; ${c.channelSuccessToOrderPaidMs.callback ? fmt(c.channelSuccessToOrderPaidMs.callback) : 'none by callback'}`,
    ),
    '  channel success -> order paid, by recovery path:',
    ...Object.entries(r.channelSuccessToOrderPaidMs).map(([path, s]) => `    ${path.padEnd(15)} ${fmt(s)}`),
    `  VERDICT: ${r.totalViolations === 0 ? 'no drop orders, no double payments, nothing left open' : `${r.totalViolations} VIOLATIONS`}`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch(async (err: unknown) => {
  process.stderr.write(`[chaos] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  await cleanup().catch(() => undefined);
  process.exit(2);
});
