// Real payments in each state an operator asks about, made through the whole stack (test/support/stack.ts) with the
// sandbox's and the order service's faults, and a way to run the operator's commands against that stack as a shell
// would (npm run ..., curl), with the same configuration the stack's processes have.
import { exec } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { call } from './openapi';
import { devServerAddress } from './env';
import { channelIdOf, type Stack } from './stack';

export const DEV_ADMIN_KEY = 'admin-dev-key-not-for-production';

/** A stack whose payments expire, are queried and close within seconds; the README's development admin key. */
export const OPERATOR_STACK_ENV = {
  PAYMENT_QUERY_SCHEDULE: '1s,2s',
  PAYMENT_EXPIRY: '12s',
  LATE_CALLBACK_WINDOW: '2s',
  CHANNEL_TIMEOUT: '500ms',
  ADMIN_API_KEY: DEV_ADMIN_KEY,
};

export interface MadePayment {
  paymentId: string;
  orderId: string;
  channelPaymentId: string;
}

/** A payment created through the API (for 25.99 CNY unless told), for an order of `orderAmount` (the same unless told). */
export async function createPayment(
  s: Stack,
  options: { amount?: number; orderAmount?: number; description?: string } = {},
): Promise<MadePayment> {
  const amount = options.amount ?? 2599;
  const orderId = await s.createOrder(options.orderAmount ?? amount);
  const res = await call(s.apiUrl, 'POST', '/payments', {
    body: {
      orderId,
      amount,
      currency: 'CNY',
      channel: 'sandboxpay',
      ...(options.description ? { description: options.description } : {}),
    },
    headers: { 'idempotency-key': randomUUID() },
  });
  if (res.status !== 201) throw new Error(`POST /payments answered ${res.status}`);
  return {
    orderId,
    paymentId: res.body.paymentId as string,
    channelPaymentId: channelIdOf(res.body.payUrl as string),
  };
}

/**
 * A payment with a description, created through the API, paid in the wallet (the signed callback signalled), its
 * order acknowledged and its status read back SUCCESS by callback (the stack's first query must be later): a payment
 * that went the whole way, for tests that read what it left behind (its history, the Web UI).
 */
export async function paidThroughApi(s: Stack, amount: number, description: string): Promise<MadePayment> {
  const made = await createPayment(s, { amount, description });
  expect(await s.buyer(made.channelPaymentId, 'pay')).toBe(200);
  await s.eventually('the order to be paid', async () => (await s.order(made.orderId)).status === 'PAID');
  const read = await call(s.apiUrl, 'GET', `/payments/${made.paymentId}`);
  expect(read.body).toMatchObject({ status: 'SUCCESS', resolvedBy: 'callback' });
  return made;
}

export const statusOf = async (s: Stack, id: string) => (await s.repo.get(id))!.status;

export async function reaches(s: Stack, p: MadePayment, status: string, timeoutMs = 30_000): Promise<void> {
  await s.eventually(
    `${p.paymentId} to be ${status}`,
    async () => (await statusOf(s, p.paymentId)) === status,
    timeoutMs,
  );
}

export interface OperatorPayments {
  /** Paid; the callback was lost, the first scheduled query found it (ResolvedBy = query). Acknowledged. */
  byQuery: MadePayment;
  /** Paid by the callback, acknowledged by the order service. */
  paid: MadePayment;
  /** Paid, but the order was for another amount: the order service refused it, waiting for a person. */
  review: MadePayment;
  /** Closed at expiry, then settled late by the channel: refunded. */
  refunded: MadePayment;
  /** Paid while the order service fails every request: decided, not acknowledged. */
  unacknowledged: MadePayment;
  /** Open past its expiry: the channel stopped answering queries (still failing when this returns). */
  stuck: MadePayment;
}

/**
 * Makes one payment in each state. Leaves the order service failing (unacknowledged stays so) and the channel's
 * queries failing (stuck stays so): call `heal` to undo both.
 */
export async function makeOperatorPayments(s: Stack): Promise<OperatorPayments> {
  s.sandbox.setFaults({ callbackDropRate: 1 });
  const byQuery = await createPayment(s);
  await s.buyer(byQuery.channelPaymentId, 'pay');
  await reaches(s, byQuery, 'SUCCESS');
  s.sandbox.setFaults({ callbackDropRate: 0 });

  const paid = await createPayment(s);
  await s.buyer(paid.channelPaymentId, 'pay');
  const review = await createPayment(s, { orderAmount: 1000 });
  await s.buyer(review.channelPaymentId, 'pay');
  const refunded = await createPayment(s);
  await reaches(s, paid, 'SUCCESS');
  await reaches(s, review, 'NEEDS_REVIEW');
  await s.eventually('paid and byQuery acknowledged', async () => {
    const rows = await Promise.all([s.repo.get(paid.paymentId), s.repo.get(byQuery.paymentId)]);
    return rows.every((r) => r?.order_notified_at);
  });

  await reaches(s, refunded, 'CLOSED');
  await fetch(`${s.sandboxUrl}/admin/payments/${refunded.channelPaymentId}/settle-late`, { method: 'POST' });
  await reaches(s, refunded, 'REFUNDED');

  s.orderService.setFaults({ errorRate: 1 });
  const unacknowledged = await createPayment(s);
  await s.buyer(unacknowledged.channelPaymentId, 'pay');
  await reaches(s, unacknowledged, 'SUCCESS');

  const stuck = await createPayment(s);
  await reaches(s, stuck, 'PAYING');
  s.sandbox.setFaults({ queryErrorRate: 1 });
  const expiryMs = 12_000;
  await new Promise((r) => setTimeout(r, expiryMs + 2000)); // past its expiry, its final query failing
  return { byQuery, paid, review, refunded, unacknowledged, stuck };
}

/** The channel answers queries again and the order service acknowledges again. */
export function heal(s: Stack): void {
  s.sandbox.setFaults({ queryErrorRate: 0 });
  s.orderService.setFaults({ errorRate: 0 });
}

/** The environment the operator's shell has for this stack: its Temporal, its task queue, its API, its key. */
export function operatorEnv(s: Stack, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: devServerAddress(),
    TEMPORAL_NAMESPACE: s.config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: s.config.temporal.taskQueue,
    API_PUBLIC_URL: s.apiUrl,
    ADMIN_API_KEY: s.config.api.adminApiKey,
    PAYMENT_EXPIRY: OPERATOR_STACK_ENV.PAYMENT_EXPIRY,
    ...extra,
  };
}

export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

const projectRoot = join(__dirname, '..', '..');

/** Runs one command line as an operator's shell would, from the project directory. */
export function shell(command: string, env: NodeJS.ProcessEnv): Promise<ShellResult> {
  return new Promise((resolve) => {
    exec(command, { cwd: projectRoot, env, shell: '/bin/bash', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
