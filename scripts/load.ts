// npm run load -- --payments 200 --concurrency 10 [--channel wechatpay]
// Drives full payments through a running stack (npm start, or the URLs in the environment), as shops and buyers
// would: create the order, POST /payments on the channel (default SandboxPay), pay what the buyer was handed (the
// emulator's wallet, or Stripe's test checkout), wait for the order to turn PAID. Then
// reads the timestamps the system recorded and prints latency percentiles:
//   - POST /payments, as the client saw it;
//   - callback received (our event row) -> order service acknowledged (its transition row).
// Writes the numbers as JSON under bench/results/.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../config';
import { embeddedDatabaseUrl } from './stack/embedded-postgres';
import { createDb } from '../db/knex';
import { actAsBuyer } from './chaos/channels';

const { values: args } = parseArgs({
  options: {
    payments: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '10' },
    timeout: { type: 'string', default: '120' },
    channel: { type: 'string', default: 'sandboxpay' },
  },
});
const total = Number(args.payments);
const concurrency = Number(args.concurrency);
if (!(total > 0) || !(concurrency > 0)) {
  process.stderr.write('usage: npm run load -- --payments N --concurrency C [--channel NAME]\n');
  process.exit(2);
}

const config = loadConfigOrExit();
const api = `http://localhost:${config.api.port}`;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Done {
  paymentId: string;
  orderId: string;
  createMs: number;
}

async function onePayment(): Promise<Done> {
  const order = await json(`${config.orders.url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 1000 + Math.floor(Math.random() * 9000), currency: 'CNY' }),
  });
  const orderId = String(order.body.orderId);
  const t0 = performance.now();
  const created = await json(`${api}/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ orderId, amount: order.body.amount, currency: 'CNY', channel: args.channel }),
  });
  const createMs = performance.now() - t0;
  if (created.status !== 201)
    throw new Error(`POST /payments answered ${created.status}: ${JSON.stringify(created.body)}`);
  const paid = await actAsBuyer(created.body, 'pay');
  if (!/^pay: (SUCCESS|succeeded)$/.test(paid)) throw new Error(`the buyer could not pay: ${paid}`);
  const deadline = Date.now() + Number(args.timeout) * 1000;
  for (;;) {
    const o = await json(`${config.orders.url}/orders/${orderId}`);
    if (o.body.status === 'PAID') break;
    if (Date.now() > deadline) throw new Error(`order ${orderId} not paid after ${args.timeout} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { paymentId: String(created.body.paymentId), orderId, createMs };
}

async function main(): Promise<void> {
  const started = Date.now();
  const done: Done[] = [];
  let next = 0;
  let failed = 0;
  const progress = setInterval(() => {
    process.stderr.write(
      `\r[load] ${done.length}/${total} paid, ${failed} failed, ${((Date.now() - started) / 1000).toFixed(0)} s   `,
    );
  }, 1000);
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        next++;
        try {
          done.push(await onePayment());
        } catch (err) {
          failed++;
          process.stderr.write(`\n[load] ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    }),
  );
  clearInterval(progress);
  const wallS = (Date.now() - started) / 1000;
  process.stderr.write(`\r[load] ${done.length}/${total} paid, ${failed} failed in ${wallS.toFixed(1)} s\n`);

  const db = createDb({ url: config.database.url ?? embeddedDatabaseUrl(config.database.embeddedPort), poolMax: 2 });
  try {
    const rows = (await db.raw(
      `select p.id,
              (select min(e.received_at) from payment_events e
                where e.payment_id = p.id and e.source = 'callback' and e.outcome = 'accepted') as callback_at,
              (select min(t.at) from order_service.order_transitions t where t.payment_id = p.id::text) as acked_at,
              p.resolved_by
         from payments p where p.id = any(?)`,
      [done.map((d) => d.paymentId)],
    )) as { rows: { id: string; callback_at: Date | null; acked_at: Date | null; resolved_by: string }[] };
    const callbackToAck = rows.rows
      .filter((r) => r.callback_at && r.acked_at)
      .map((r) => r.acked_at!.getTime() - r.callback_at!.getTime());
    const byPath = rows.rows.reduce<Record<string, number>>(
      (acc, r) => ({ ...acc, [r.resolved_by]: (acc[r.resolved_by] ?? 0) + 1 }),
      {},
    );
    const result = {
      at: new Date().toISOString(),
      machine: { cores: cpus().length, node: process.version },
      channel: args.channel,
      payments: total,
      concurrency,
      paid: done.length,
      failed,
      wallSeconds: wallS,
      paymentsPerSecond: done.length / wallS,
      resolvedBy: byPath,
      createPaymentMs: summary(done.map((d) => d.createMs)),
      callbackToOrderAckMs: summary(callbackToAck),
    };
    const fmt = (s: ReturnType<typeof summary>) =>
      `n=${s.n}  p50 ${s.p50.toFixed(1)}  p95 ${s.p95.toFixed(1)}  p99 ${s.p99.toFixed(1)}  max ${s.max.toFixed(1)} ms`;
    process.stdout.write(
      [
        `${args.channel}: ${done.length} paid of ${total} (${failed} failed) in ${wallS.toFixed(1)} s, concurrency ${concurrency}` +
          ` (${result.paymentsPerSecond.toFixed(1)}/s), resolved by ${JSON.stringify(byPath)}`,
        `POST /payments                      ${fmt(result.createPaymentMs)}`,
        `callback received -> order acked    ${fmt(result.callbackToOrderAckMs)}`,
      ].join('\n') + '\n',
    );
    const dir = join(__dirname, '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `load-${result.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`written to ${file}\n`);
  } finally {
    await db.destroy();
  }
  if (failed > 0) process.exitCode = 1;
}

void main();
