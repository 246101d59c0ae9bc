// `npm run payments -- <command>`: the operator's command line. It loads the same configuration as the services
// (config/index.ts: a bad variable stops it, named), asks Temporal's visibility what it knows (status, order, channel,
// next check, running or not) and the API what only the database knows (amounts, acknowledgements, the event log),
// and acts through the API's admin endpoints, always saying who acts (X-Operator).
import { userInfo } from 'node:os';
import { dataConverterFor } from '../codec/data-converter';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import ms from 'ms';
import { type Config, ConfigError, loadConfig } from '../config';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { paymentIdFromWorkflowId, paymentWorkflowId, searchAttributes } from '../workflows/definitions';
import { formatMoney } from '../workflows/money';
import { PAYMENT_STATUSES, type PaymentStatus } from '../workflows/states';
import { type ActionAnswer, OperatorError, PaymentsApi } from './operator/api';
import { RemoteCodec } from './operator/remote-codec';
import {
  type FilterContext,
  LATE_SUCCESS_STATUSES,
  type ListFilters,
  needsVisibility,
  stuckBefore,
  visibilityQuery,
} from './operator/list-filters';

/** A payment as GET /payments/{id} and GET /admin/payments answer it (the fields the CLI shows). */
interface PaymentRecord {
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  channel: string;
  status: PaymentStatus;
  resolvedBy: string | null;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  paidAt: string | null;
  orderNotifiedAt: string | null;
  payUrl?: string | null;
  statusReason?: string | null;
  live?: LiveView;
}

/** The workflow's own view (the `status` query), as GET /payments/{id}?live=1 adds it. */
interface LiveView {
  status: string;
  waitingFor: string;
  nextCheckAt?: string;
  checksDone: number;
  queryFailures: number;
  orderNotified: boolean;
  duplicateCallbacks: number;
  ignoredCallbacks: number;
  anomalies: { kind: string; at: string; detail: string }[];
}

interface EventLog {
  events: {
    at: string;
    source: string;
    type: string;
    outcome: string | null;
    channelEventId: string | null;
    payload?: unknown;
  }[];
  transitions: { status: string; resolvedBy: string | null; at: string }[];
}

/** One line of `list`: the database's record where the API has it, visibility's search attributes for the rest. */
export interface ListedPayment {
  paymentId: string;
  status: string;
  amount: number | null;
  currency: string | null;
  orderId: string | null;
  channel: string | null;
  createdAt: string | null;
  nextCheckAt: string | null;
  resolvedBy: string | null;
  orderNotifiedAt: string | null;
  workflow: string | null;
}

interface Context {
  config: Config;
  api: PaymentsApi;
  operator: string;
}

function defaultOperator(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

function context(program: Command): Context {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new OperatorError(err.message);
    throw err;
  }
  const operator = (program.opts<{ operator?: string }>().operator ?? defaultOperator()).trim();
  if (!operator) throw new OperatorError('--operator: give a name (who acts is recorded with every action)');
  const api = new PaymentsApi({ baseUrl: config.api.publicUrl, adminApiKey: config.api.adminApiKey, operator });
  return { config, api, operator };
}

/**
 * How the CLI reads encrypted payloads: with payload keys of its own when it has them (a production host), else
 * through the service's codec server with the admin key (an operator's machine), unless encryption is off.
 */
function cliDataConverter(config: Config, api: PaymentsApi): DataConverter | undefined {
  const local = dataConverterFor(config);
  if (local || config.payloadEncryption.mode === 'off') return local;
  return { payloadCodecs: [new RemoteCodec(api)] };
}

async function temporalClient(
  config: Config,
  api: PaymentsApi,
): Promise<{ client: Client; close: () => Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), connectTimeout: '5s' });
  } catch (err) {
    throw new OperatorError(
      `cannot reach Temporal at ${config.temporal.address} (${(err as Error).message}): ` +
        'it is configured by TEMPORAL_ADDRESS (default localhost:$TEMPORAL_PORT)',
    );
  }
  return {
    client: new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter: cliDataConverter(config, api),
    }),
    close: () => connection.close(),
  };
}

/** The Web UI's page of a payment's workflow, on the host of the configured frontend. */
function webUiLink(config: Config, paymentId: string): string {
  const host = config.temporal.address.replace(/:\d+$/, '');
  const ns = encodeURIComponent(config.temporal.namespace);
  return `http://${host}:${config.temporal.uiPort}/namespaces/${ns}/workflows/${encodeURIComponent(paymentWorkflowId(paymentId))}`;
}

/** Runs `fn` over `items`, at most `width` at a time, keeping their order. */
async function mapLimited<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** The statuses the filters allow (all must hold), or undefined when none asks for a status. */
function wantedStatuses(filters: ListFilters): PaymentStatus[] | undefined {
  const sets: (readonly PaymentStatus[])[] = [];
  if (filters.needsReview) sets.push(['NEEDS_REVIEW']);
  if (filters.lateSuccesses) sets.push(LATE_SUCCESS_STATUSES);
  if (filters.status) sets.push([filters.status]);
  if (sets.length === 0) return undefined;
  return sets.reduce((a, b) => a.filter((x) => b.includes(x))) as PaymentStatus[];
}

const FINAL_OR_LATER = new Set<string>(PAYMENT_STATUSES.filter((s) => s !== 'UNPAID' && s !== 'PAYING'));

/** The times the filters are computed from: now, and this deployment's expiry and task queue. */
function filterContext(config: Config): FilterContext {
  return { now: new Date(), expiryMs: config.payments.expiryMs, taskQueue: config.temporal.taskQueue };
}

async function listPayments(
  ctx: Context,
  filters: ListFilters,
  limit: number,
  times: FilterContext,
): Promise<ListedPayment[]> {
  const { config, api } = ctx;
  const fromVisibility = new Map<string, ListedPayment>();
  const order: string[] = [];

  // A status is the database's to tell: a payment workflow's PaymentStatus is the last one it wrote, and a status set
  // after it ended (a late success found by the API, a refund or a review settled later) never reaches it. So status
  // questions without a time (--needs-review, --late-successes, --status) are asked of the database.
  const statuses = wantedStatuses(filters);
  if (statuses && !filters.stuck && !filters.overdue) {
    const answers = await mapLimited(statuses, 4, (status) => {
      const params = new URLSearchParams({ status, limit: '500' });
      if (filters.unacknowledged) params.set('unacknowledged', 'true');
      return api.get<{ payments: PaymentRecord[] }>(`/admin/payments?${params}`);
    });
    const rows = answers
      .flatMap((a) => a.payments)
      .filter(
        (p) => (!filters.order || p.orderId === filters.order) && (!filters.channel || p.channel === filters.channel),
      )
      .sort((x, y) => (x.createdAt < y.createdAt ? -1 : x.createdAt > y.createdAt ? 1 : 0))
      .slice(0, limit);
    return rows.map((r) => ({
      paymentId: r.paymentId,
      status: r.status,
      amount: r.amount,
      currency: r.currency,
      orderId: r.orderId,
      channel: r.channel,
      createdAt: r.createdAt,
      nextCheckAt: null,
      resolvedBy: r.resolvedBy ?? null,
      orderNotifiedAt: r.orderNotifiedAt ?? null,
      workflow: null,
    }));
  }

  if (needsVisibility(filters) || !filters.unacknowledged) {
    const query = visibilityQuery(filters, times);
    // Intersected with the database's answer below, visibility may hold more than `limit` before the cut.
    const scan = filters.unacknowledged ? 1000 : limit;
    const temporal = await temporalClient(config, api);
    try {
      for await (const wf of temporal.client.workflow.list({ query, pageSize: Math.min(scan, 1000) })) {
        const paymentId = paymentIdFromWorkflowId(wf.workflowId);
        if (!paymentId) continue;
        const attrs = wf.typedSearchAttributes;
        fromVisibility.set(paymentId, {
          paymentId,
          status: attrs.get(searchAttributes.paymentStatus) ?? '?',
          amount: null,
          currency: null,
          orderId: attrs.get(searchAttributes.orderId) ?? null,
          channel: attrs.get(searchAttributes.paymentChannel) ?? null,
          createdAt: wf.startTime.toISOString(),
          nextCheckAt: attrs.get(searchAttributes.nextCheckAt)?.toISOString() ?? null,
          resolvedBy: attrs.get(searchAttributes.resolvedBy) ?? null,
          orderNotifiedAt: null,
          workflow: wf.status.name,
        });
        order.push(paymentId);
        if (order.length >= scan) break;
      }
    } catch (err) {
      if (err instanceof OperatorError) throw err;
      throw new OperatorError(`Temporal refused the list query (${(err as Error).message}); the query was: ${query}`);
    } finally {
      await temporal.close();
    }
  }

  let records: PaymentRecord[];
  if (filters.unacknowledged) {
    const params = new URLSearchParams({
      unacknowledged: 'true',
      limit: String(needsVisibility(filters) ? 500 : limit),
    });
    if (filters.status) params.set('status', filters.status);
    const answer = await api.get<{ payments: PaymentRecord[] }>(`/admin/payments?${params}`);
    records = answer.payments.filter(
      (p) =>
        (!needsVisibility(filters) || fromVisibility.has(p.paymentId)) &&
        (!filters.order || p.orderId === filters.order) &&
        (!filters.channel || p.channel === filters.channel),
    );
    order.splice(0, order.length, ...records.map((r) => r.paymentId));
  } else {
    // The database's record of each (amount, currency, status as stored, acknowledgement): one GET each.
    const found = await mapLimited(order.slice(0, limit), 8, async (id) => {
      try {
        return await api.get<PaymentRecord>(`/payments/${encodeURIComponent(id)}`);
      } catch (err) {
        if (err instanceof OperatorError && err.status === 404) return undefined;
        throw err;
      }
    });
    // The database has the last word on status: a review an operator settled after the payment workflow ended (or
    // a refund that finished after it) is not in that workflow's PaymentStatus, which stays what it last wrote.
    records = found.filter(
      (r): r is PaymentRecord =>
        r !== undefined &&
        (!filters.needsReview || r.status === 'NEEDS_REVIEW') &&
        (!filters.status || r.status === filters.status),
    );
  }

  const byId = new Map(records.map((r) => [r.paymentId, r]));
  // Only what the database confirmed (a payment it does not know, or whose status it does not confirm, is left out).
  return order
    .filter((id) => byId.has(id))
    .slice(0, limit)
    .map((id) => {
      const seen = fromVisibility.get(id);
      const record = byId.get(id);
      const status = record?.status ?? seen?.status ?? '?';
      return {
        paymentId: id,
        status,
        amount: record?.amount ?? null,
        currency: record?.currency ?? null,
        orderId: record?.orderId ?? seen?.orderId ?? null,
        channel: record?.channel ?? seen?.channel ?? null,
        createdAt: record?.createdAt ?? seen?.createdAt ?? null,
        // A decided payment has no next check, whatever its last search attribute says.
        nextCheckAt: FINAL_OR_LATER.has(status) ? null : (seen?.nextCheckAt ?? null),
        resolvedBy: record?.resolvedBy ?? seen?.resolvedBy ?? null,
        orderNotifiedAt: record?.orderNotifiedAt ?? null,
        workflow: seen?.workflow ?? null,
      };
    });
}

/** "12s", "4m", "2h": how long ago, or how far ahead ("in 8s"). */
function relative(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const delta = new Date(iso).getTime() - now;
  const span = ms(Math.max(Math.abs(delta), 0));
  return delta >= 0 ? `in ${span}` : `${span} ago`;
}
const age = (iso: string | null, now = Date.now()) => (iso ? ms(Math.max(now - new Date(iso).getTime(), 0)) : '-');
const money = (amount: number | null, currency: string | null) =>
  amount === null || currency === null ? '?' : formatMoney(amount, currency);

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [], compact: true } });
}

/** What a time-based filter meant, in times: the operator sees which expiry and clock the answer rests on. */
function describeTimes(filters: ListFilters, ctx: FilterContext): string[] {
  const lines: string[] = [];
  if (filters.stuck)
    lines.push(
      `stuck: open (UNPAID, PAYING) and started before ${stuckBefore(ctx).toISOString()} (now minus PAYMENT_EXPIRY ${ms(ctx.expiryMs)})`,
    );
  if (filters.overdue) lines.push(`overdue: PAYING and its next channel query due before ${ctx.now.toISOString()}`);
  return lines;
}

function printList(rows: ListedPayment[], heading: string[] = []): void {
  for (const line of heading) process.stdout.write(`${line}\n`);
  if (rows.length === 0) {
    process.stdout.write('no payments match\n');
    return;
  }
  const t = table(['payment', 'status', 'amount', 'order', 'channel', 'age', 'next check']);
  for (const r of rows) {
    t.push([
      r.paymentId,
      r.status,
      money(r.amount, r.currency),
      r.orderId ?? '?',
      r.channel ?? '?',
      age(r.createdAt),
      relative(r.nextCheckAt),
    ]);
  }
  process.stdout.write(`${t.toString()}\n${rows.length} payment${rows.length === 1 ? '' : 's'}\n`);
}

/** What the order service has heard of this payment. */
function orderHeard(payment: PaymentRecord): string {
  if (payment.orderNotifiedAt) return `order service acknowledged ${payment.orderNotifiedAt}`;
  if (!FINAL_OR_LATER.has(payment.status)) return 'the order service is told once it is decided';
  return 'order service not acknowledged yet';
}

/** A call the payment's workflow keeps retrying (the final query, the close, the order notice), and why. */
export interface RetryingCall {
  activity: string;
  attempt: number;
  nextAttemptAt: string | null;
  lastFailure: string | null;
}

/**
 * What the running workflow is retrying now, from Temporal (the Web UI's "pending activities"): a payment stuck past
 * its expiry is usually a final query or close the channel keeps failing, and this says how often and with what.
 */
async function retryingCalls(ctx: Context, paymentId: string): Promise<RetryingCall[]> {
  const temporal = await temporalClient(ctx.config, ctx.api);
  try {
    const described = await temporal.client.workflow.getHandle(paymentWorkflowId(paymentId)).describe();
    if (described.status.name !== 'RUNNING') return [];
    const calls: RetryingCall[] = [];
    for (const pending of described.raw.pendingActivities ?? []) {
      const attempt = pending.attempt ?? 1;
      if (attempt < 2) continue; // the first try, under way
      // Failure messages are encrypted in Temporal (PAYLOAD_ENCRYPTION): decoded as cliDataConverter says.
      const failure = await decodeOptionalFailureToOptionalError(
        temporal.client.workflow.options.loadedDataConverter,
        pending.lastFailure,
      );
      const next = pending.nextAttemptScheduleTime?.seconds;
      calls.push({
        activity: pending.activityType?.name ?? '?',
        attempt,
        nextAttemptAt: next ? new Date(Number(next) * 1000).toISOString() : null,
        lastFailure: failure?.message ?? null,
      });
    }
    return calls;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return [];
    throw err;
  } finally {
    await temporal.close();
  }
}

async function show(ctx: Context, paymentId: string, json: boolean): Promise<void> {
  const path = `/payments/${encodeURIComponent(paymentId)}`;
  let payment: PaymentRecord;
  let liveProblem: string | undefined;
  try {
    payment = await ctx.api.get<PaymentRecord>(`${path}?live=1`);
  } catch (err) {
    // No workflow (any more), or it did not answer: the stored state still tells most of the story.
    if (!(err instanceof OperatorError) || (err.status !== 404 && err.status !== 503)) throw err;
    payment = await ctx.api.get<PaymentRecord>(path);
    liveProblem = err.message.replace(/^.*answered \d+: /, '');
  }
  const log = await ctx.api.get<EventLog>(`/admin${path}/events`);
  const webUi = webUiLink(ctx.config, paymentId);
  let retrying: RetryingCall[] = [];
  let retryingUnknown: string | undefined;
  // Asked of Temporal's server, not of the worker: known even when the live view (a workflow query) did not answer.
  try {
    retrying = await retryingCalls(ctx, paymentId);
  } catch (err) {
    retryingUnknown = err instanceof Error ? err.message : String(err);
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ payment, retrying, ...(retryingUnknown ? { retryingUnknown } : {}), events: log.events, transitions: log.transitions, webUi }, null, 2)}\n`,
    );
    return;
  }
  const lines = [
    `payment   ${payment.paymentId}`,
    `status    ${payment.status}${payment.resolvedBy ? ` (by ${payment.resolvedBy})` : ''}${payment.statusReason ? `: ${payment.statusReason}` : ''}`,
    `amount    ${money(payment.amount, payment.currency)}`,
    `order     ${payment.orderId}  (${orderHeard(payment)})`,
    `channel   ${payment.channel}`,
    `created   ${payment.createdAt} (${age(payment.createdAt)} ago), expires ${payment.expiresAt}`,
    ...(payment.paidAt ? [`paid      ${payment.paidAt}`] : []),
  ];
  if (payment.live) {
    const live = payment.live;
    lines.push(
      `workflow  ${live.waitingFor}`,
      `          next check ${live.nextCheckAt ? `${live.nextCheckAt} (${relative(live.nextCheckAt)})` : '-'}, ` +
        `checks done ${live.checksDone}, failed queries ${live.queryFailures}, ` +
        `duplicate callbacks ${live.duplicateCallbacks}, ignored ${live.ignoredCallbacks}`,
      ...live.anomalies.map((a) => `anomaly   ${a.at} ${a.kind}: ${a.detail}`),
    );
  } else {
    lines.push(`workflow  (no live view: ${liveProblem ?? 'not answered'})`);
  }
  lines.push(
    ...(retryingUnknown ? [`retrying  (not known: ${retryingUnknown})`] : []),
    ...retrying.map(
      (c) =>
        `retrying  ${c.activity}, attempt ${c.attempt}` +
        (c.nextAttemptAt ? `, next try ${c.nextAttemptAt} (${relative(c.nextAttemptAt)})` : ', trying again now') +
        (c.lastFailure ? `: ${c.lastFailure}` : ''),
    ),
  );
  lines.push(`web UI    ${webUi}`, '');
  process.stdout.write(lines.join('\n') + '\n');

  const events = table(['at', 'source', 'type', 'outcome']);
  for (const e of log.events) events.push([e.at, e.source, e.type, e.outcome ?? '']);
  process.stdout.write(`events (${log.events.length})\n${log.events.length ? events.toString() : '  none'}\n\n`);
  const transitions = table(['at', 'status', 'by']);
  for (const t of log.transitions) transitions.push([t.at, t.status, t.resolvedBy ?? '']);
  process.stdout.write(`transitions (${log.transitions.length})\n${transitions.toString()}\n`);
}

async function act(ctx: Context, paymentId: string, action: string, body: object): Promise<void> {
  const answer = await ctx.api.post<ActionAnswer>(`/admin/payments/${encodeURIComponent(paymentId)}/${action}`, body);
  process.stdout.write(`${answer.paymentId}: ${answer.status}: ${answer.message}\n`);
}

function positiveLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError('a whole number from 1 to 500');
  return n;
}

function nonEmpty(value: string): string {
  if (!value.trim()) throw new InvalidArgumentError('must not be empty');
  return value;
}

function buildProgram(): Command {
  const program = new Command('payments')
    .description('Operate the payment orchestrator: find payments, read their story, act on them.')
    .option('--operator <name>', 'who acts (sent as X-Operator, recorded with the action)', defaultOperator())
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  program
    .command('list')
    .description('payments matching the filters (all given must hold), most recent first')
    .option('--stuck', 'open (UNPAID/PAYING) and running longer than PAYMENT_EXPIRY')
    .option('--overdue', 'PAYING, and its next channel query (NextCheckAt) is already past')
    .option('--unacknowledged', 'decided, but the order service has not acknowledged it (from the database)')
    .option('--late-successes', 'paid after an unpaid final state: REFUNDING, REFUNDED or NEEDS_REVIEW')
    .option('--needs-review', 'waiting for a person (NEEDS_REVIEW)')
    .addOption(new Option('--status <status>', 'in this status').choices(PAYMENT_STATUSES))
    .option('--order <orderId>', "one order's payments")
    .option('--channel <channel>', 'by channel (sandboxpay, wechatpay, alipay, stripe)')
    .option('--limit <n>', 'at most this many (1-500)', positiveLimit, 50)
    .option('--json', 'JSON instead of a table')
    .option('--print-query', 'print the Temporal list filter (for the Web UI) instead of running it')
    .action(async (opts: ListFilters & { limit: number; json?: boolean; printQuery?: boolean }) => {
      const ctx = context(program);
      const times = filterContext(ctx.config);
      if (opts.printQuery) {
        process.stdout.write(`${visibilityQuery(opts, times)}\n`);
        return;
      }
      const rows = await listPayments(ctx, opts, opts.limit, times);
      if (opts.json) process.stdout.write(`${JSON.stringify({ payments: rows, count: rows.length }, null, 2)}\n`);
      else printList(rows, describeTimes(opts, times));
    });

  program
    .command('show')
    .description("a payment's state, the workflow's live view, its event log and its Web UI page")
    .argument('<paymentId>')
    .option('--json', 'JSON instead of text')
    .action(async (paymentId: string, opts: { json?: boolean }) =>
      show(context(program), paymentId, Boolean(opts.json)),
    );

  program
    .command('requery')
    .description('ask the channel about the payment now (POST /admin/payments/{id}/requery)')
    .argument('<paymentId>')
    .option('--reason <text>', 'why, for the event log', nonEmpty)
    .action(async (paymentId: string, opts: { reason?: string }) =>
      act(context(program), paymentId, 'requery', opts.reason ? { reason: opts.reason } : {}),
    );

  program
    .command('renotify')
    .description('tell the order service the payment result again (POST /admin/payments/{id}/renotify)')
    .argument('<paymentId>')
    .requiredOption('--reason <text>', 'why, for the event log', nonEmpty)
    .action(async (paymentId: string, opts: { reason: string }) =>
      act(context(program), paymentId, 'renotify', { reason: opts.reason }),
    );

  program
    .command('resolve')
    .description('settle a NEEDS_REVIEW payment by hand (POST /admin/payments/{id}/resolve)')
    .argument('<paymentId>')
    .addOption(new Option('--refund', 'give the money back at the channel').conflicts(['accept', 'close']))
    .addOption(new Option('--accept', 'keep the money: the order is paid').conflicts(['refund', 'close']))
    .addOption(new Option('--close', 'close it without moving money').conflicts(['refund', 'accept']))
    .requiredOption('--reason <text>', 'why, for the event log', nonEmpty)
    .action(
      async (paymentId: string, opts: { refund?: boolean; accept?: boolean; close?: boolean; reason: string }) => {
        const action = opts.refund ? 'refund' : opts.accept ? 'accept' : opts.close ? 'close' : undefined;
        if (!action) throw new OperatorError('resolve: say how, with one of --refund, --accept or --close');
        await act(context(program), paymentId, 'resolve', { action, reason: opts.reason });
      },
    );

  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof OperatorError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}

void main();
