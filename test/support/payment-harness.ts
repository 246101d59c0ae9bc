// Everything a payment-workflow test needs, real: a Temporal server (time-skipping or dev), PostgreSQL, SandboxPay
// and the order service over HTTP on free ports, and our worker with its real activities. Tests act as the buyer
// (paying in the sandbox) and as the API (signalling verified callbacks).
import { randomUUID } from 'node:crypto';
import { type Client, WithStartWorkflowOperation, type WorkflowHandle } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import pino from 'pino';
import { SandboxPayChannel } from '../../channels/sandboxpay';
import { createHttpOrderNotifier } from '../../activities/order-notifier';
import { PaymentsRepository } from '../../db/payments-repo';
import {
  createOrderService,
  ensureOrderServiceSchema,
  type OrderService,
  type OrderTransition,
} from '../../sandbox/order-service';
import { createSandboxPay, type SandboxPay, type SandboxPayFaults } from '../../sandbox/sandboxpay';
import { createPaymentWorker } from '../../worker/worker';
import { paymentStartOptions } from '../../payments/workflows';
import {
  type ChannelCallback,
  type PaymentInput,
  type PaymentPolicyInput,
  type PaymentResult,
  type PaymentStatusView,
  type PayUrlResult,
  payUrlUpdate,
  statusQuery,
} from '../../workflows/definitions';
import type { paymentWorkflow } from '../../workflows/payment';
import {
  createTestDatabase,
  devServerAddress,
  TEST_PAYLOAD_KEYS,
  type TestDatabase,
  testDataConverter,
  workflowBundlePath,
} from './env';
import { listen } from './http';

export const MERCHANT = 'test-shop';
export const SECRET = 'test-secret-0123456789abcdef';
/** The worker signs its order notifications with it; the order service accepts it. */
export const ORDER_KEYS = [{ id: 'harness', secret: 'harness-order-notify-key-0123456789abcdefXYZ' }];
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;

export const DEFAULT_POLICY: PaymentPolicyInput = {
  querySchedule: [10, 30, 60, 120, 300, 600, 900, 1800].map((s) => s * SECOND),
  lateWindowMs: 25 * 60 * MINUTE,
  notifyInitialBackoffMs: SECOND,
  notifyMaxBackoffMs: 5 * MINUTE,
  lateSuccessPolicy: 'refund',
};

export interface HarnessOptions {
  client: Client;
  connection?: NativeConnection;
  taskQueue?: string;
  sandboxFaults?: Partial<SandboxPayFaults>;
  /** Per-request timeout of our channel adapter (short in tests that make the channel hang). */
  channelTimeoutMs?: number;
  /** The server's clock: the time-skipping server's virtual time runs ahead of the wall clock once it skips. */
  now?: () => Promise<number>;
  /** false: run no worker in this process (the test runs worker processes of its own). */
  inProcessWorker?: boolean;
}

export interface OrderView {
  orderId: string;
  status: 'UNPAID' | 'PAID' | 'CANCELLED';
  transitions: OrderTransition[];
}

export interface StartedPayment {
  paymentId: string;
  orderId: string;
  input: PaymentInput;
  handle: WorkflowHandle<typeof paymentWorkflow>;
  /** The answer of the update the payment was started with: the pay URL once the channel created it. */
  payUrl: Promise<PayUrlResult>;
}

export class PaymentHarness {
  private constructor(
    readonly client: Client,
    readonly taskQueue: string,
    readonly t: TestDatabase,
    readonly repo: PaymentsRepository,
    readonly sandbox: SandboxPay,
    readonly sandboxUrl: string,
    readonly orderService: OrderService,
    readonly ordersUrl: string,
    readonly worker: Worker | undefined,
    private readonly closers: (() => Promise<void>)[],
    private readonly workerDone: Promise<void> | undefined,
    private readonly now: () => Promise<number>,
  ) {}

  static async create(options: HarnessOptions): Promise<PaymentHarness> {
    const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const taskQueue = options.taskQueue ?? `payments-${randomUUID().slice(0, 8)}`;
    const t = await createTestDatabase();
    await ensureOrderServiceSchema(t.db);
    // Callbacks are the API's business (issue 4): here tests deliver them as signals, so the sandbox sends none.
    const sandbox = createSandboxPay({
      merchantId: MERCHANT,
      secret: SECRET,
      publicUrl: 'http://sandbox.invalid',
      seed: 'workflow-tests',
      faults: { callbackDropRate: 1, ...options.sandboxFaults },
      refundDelayMs: 100,
      logger,
    });
    const sandboxHttp = await listen(sandbox.app);
    const orderService = createOrderService({ db: t.db, seed: 'workflow-tests', logger, signingKeys: ORDER_KEYS });
    const ordersHttp = await listen(orderService.app);
    const worker =
      options.inProcessWorker === false || !options.connection
        ? undefined
        : await createPaymentWorker({
            connection: options.connection,
            namespace: 'default',
            taskQueue,
            workflowBundlePath: workflowBundlePath(),
            dataConverter: testDataConverter(),
            deps: {
              db: t.db,
              logger,
              channels: {
                sandboxpay: new SandboxPayChannel(
                  {
                    url: sandboxHttp.url,
                    merchantId: MERCHANT,
                    secret: SECRET,
                    timeoutMs: options.channelTimeoutMs ?? 5000,
                  },
                  logger,
                ),
              },
              orders: createHttpOrderNotifier({ url: ordersHttp.url, signingKeys: ORDER_KEYS, timeoutMs: 5000 }),
              callbackBaseUrl: 'http://api.invalid',
            },
          });
    const workerDone = worker?.run();
    return new PaymentHarness(
      options.client,
      taskQueue,
      t,
      new PaymentsRepository(t.db),
      sandbox,
      sandboxHttp.url,
      orderService,
      ordersHttp.url,
      worker,
      [sandboxHttp.close, ordersHttp.close],
      workerDone,
      options.now ?? (async () => Date.now()),
    );
  }

  /** Payments started since the last takeStarted(): the current test's, for recording their histories. */
  private started: StartedPayment[] = [];

  takeStarted(): StartedPayment[] {
    return this.started.splice(0);
  }

  async close(): Promise<void> {
    this.worker?.shutdown();
    await this.workerDone;
    this.sandbox.stop();
    for (const close of this.closers) await close();
    await this.t.drop();
  }

  /**
   * The environment of a worker process (worker/main.ts) serving this harness: its task queue, database, sandbox and
   * order service, the test payload key (`extra` may replace it: a rotation), no metrics ports, no schedules.
   */
  workerProcessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      TEMPORAL_ADDRESS: devServerAddress(),
      TEMPORAL_TASK_QUEUE: this.taskQueue,
      DATABASE_URL: this.t.url,
      SANDBOXPAY_URL: this.sandboxUrl,
      SANDBOXPAY_MERCHANT_ID: MERCHANT,
      SANDBOXPAY_SECRET: SECRET,
      ORDER_SERVICE_URL: this.ordersUrl,
      ORDER_NOTIFY_SIGNING_KEYS: ORDER_KEYS.map((k) => `${k.id}:${k.secret}`).join(','),
      LOG_LEVEL: 'warn',
      WORKER_METRICS_PORT: '0',
      TEMPORAL_SDK_METRICS_PORT: '0',
      RECONCILE_SCHEDULES: 'false',
      PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
      ...extra,
    };
  }

  /** Creates the order at the order service and the payment row (as the API does), then starts the workflow. */
  async startPayment(
    opts: { amount?: number; currency?: string; expiresInMs?: number; policy?: Partial<PaymentPolicyInput> } = {},
  ): Promise<StartedPayment> {
    const paymentId = randomUUID();
    const orderId = `order-${paymentId.slice(0, 8)}`;
    const amount = opts.amount ?? 2599;
    const currency = opts.currency ?? 'CNY';
    await this.http(this.ordersUrl, 'POST', '/orders', { orderId, amount, currency });
    const now = await this.now();
    const expiresAt = new Date(now + (opts.expiresInMs ?? 30 * MINUTE));
    const { row } = await this.repo.insert({
      id: paymentId,
      orderId,
      amount,
      currency,
      channel: 'sandboxpay',
      idempotencyKey: paymentId,
      requestFingerprint: 'test',
      expiresAt,
    });
    // Started as the API starts it (update-with-start, with the same search attributes), so its history has the
    // shape of a real payment's.
    const policy = { ...DEFAULT_POLICY, ...opts.policy };
    const options = paymentStartOptions(row, {
      temporal: { taskQueue: this.taskQueue },
      payments: { ...policy, expiryMs: expiresAt.getTime() - now, notifyAlertAfterMs: 10 * MINUTE },
    });
    const [input] = options.args;
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof paymentWorkflow>('paymentWorkflow', {
      ...options,
      workflowIdConflictPolicy: 'FAIL',
    });
    const payUrl = await this.client.workflow.startUpdateWithStart(payUrlUpdate, {
      updateId: `pay-url-${paymentId}`,
      waitForStage: 'ACCEPTED',
      startWorkflowOperation,
    });
    const handle = await startWorkflowOperation.workflowHandle();
    const started = { paymentId, orderId, input, handle, payUrl: payUrl.result() };
    started.payUrl.catch(() => undefined); // a test that never asks is not an unhandled rejection
    this.started.push(started);
    return started;
  }

  /** Waits until the channel created the payment (the update the API uses) and returns the channel's id. */
  async channelPaymentIdOf(p: StartedPayment): Promise<string> {
    const result = await p.payUrl;
    expect(result.payUrl).toMatch(/\/pay\/sp_/);
    return result.payUrl!.split('/pay/')[1]!;
  }

  /** The buyer pays (or declines) in the wallet. */
  async buyer(channelPaymentId: string, action: 'pay' | 'decline'): Promise<string> {
    const body = (await this.http(this.sandboxUrl, 'POST', `/v1/payments/${channelPaymentId}/${action}`)) as {
      status: string;
    };
    return body.status;
  }

  /** The callback the API would signal after verifying the channel's notification. */
  callback(p: StartedPayment, channelPaymentId: string, overrides: Partial<ChannelCallback> = {}): ChannelCallback {
    return {
      eventId: `evt-${randomUUID()}`,
      channelPaymentId,
      state: 'SUCCESS',
      amount: p.input.amount,
      currency: p.input.currency,
      paidAt: new Date().toISOString(),
      ...overrides,
    };
  }

  status(p: StartedPayment): Promise<PaymentStatusView> {
    return p.handle.query(statusQuery);
  }

  result(p: StartedPayment): Promise<PaymentResult> {
    return p.handle.result();
  }

  async order(orderId: string): Promise<OrderView> {
    return (await this.http(this.ordersUrl, 'GET', `/orders/${orderId}`)) as OrderView;
  }

  async payment(paymentId: string) {
    return (await this.repo.get(paymentId))!;
  }

  async http(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return res.json();
  }
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const eventTimeMs = (e: HistoryEvent) =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);

const eventsOf = async (handle: WorkflowHandle) => (await handle.fetchHistory()).events ?? [];

/** Times (server time, virtual on the time-skipping server) at which an activity type was scheduled. */
export async function activityScheduleTimes(handle: WorkflowHandle, activityType: string): Promise<number[]> {
  return (await calls(handle, activityType)).filter((c) => !c.local).map((c) => c.at);
}

interface Call {
  /** When it was scheduled (an activity) or recorded (a local activity's marker). */
  at: number;
  /** The attempt its outcome came from. */
  attempt: number;
  local: boolean;
}

/** Every call of an activity type a workflow made, as an activity or a local activity, in order, from one fetch. */
async function calls(handle: WorkflowHandle, activityType: string): Promise<Call[]> {
  const events = await eventsOf(handle);
  const lastAttempt = new Map<string, number>();
  for (const e of events) {
    const started = e.activityTaskStartedEventAttributes;
    if (started) lastAttempt.set(String(started.scheduledEventId), started.attempt ?? 0);
  }
  return events
    .flatMap((e): Call[] => {
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === activityType) {
        return [{ at: eventTimeMs(e), attempt: lastAttempt.get(String(e.eventId)) ?? 0, local: false }];
      }
      const marker = e.markerRecordedEventAttributes;
      const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : null;
      if (!data) return [];
      const details = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; attempt?: number };
      return details.activity_type === activityType
        ? [{ at: eventTimeMs(e), attempt: details.attempt ?? 1, local: true }]
        : [];
    })
    .sort((x, y) => x.at - y.at);
}

/**
 * The channel queries a payment made, in order, whether as local activities (the checks) or activities (the final
 * query at expiry, the end of the late window): when each was scheduled (or recorded) and the attempt its answer
 * came from.
 */
export async function channelQueries(handle: WorkflowHandle): Promise<{ at: number; attempt: number }[]> {
  return (await calls(handle, 'queryChannelPayment')).map(({ at, attempt }) => ({ at, attempt }));
}

/** When the workflow recorded a state change (recordFinalState, a local activity). */
export async function stateWriteTimes(handle: WorkflowHandle): Promise<number[]> {
  return (await calls(handle, 'recordFinalState')).map((c) => c.at);
}

/** Server time at which the workflow completed an activity of the given type (first completion). */
export async function activityCompletionTimes(handle: WorkflowHandle, activityType: string): Promise<number[]> {
  const events = await eventsOf(handle);
  const scheduled = new Map<string, string>();
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) scheduled.set(String(e.eventId), name);
  }
  return events
    .filter((e) => {
      const id = e.activityTaskCompletedEventAttributes?.scheduledEventId;
      return id !== undefined && id !== null && scheduled.get(String(id)) === activityType;
    })
    .map(eventTimeMs);
}

export async function workflowStartTime(handle: WorkflowHandle): Promise<number> {
  return eventTimeMs((await eventsOf(handle))[0]!);
}
