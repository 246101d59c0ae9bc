// The safety net under the per-payment workflows, run by Temporal Schedules (the article's scheduled scan):
//   - payments that are not final and have no running workflow are restarted (the API died between its insert and
//     the start, an operator terminated one);
//   - final payments whose order-service notification was never acknowledged, and whose workflow is gone, are
//     notified from here, with the workflow's own idempotency key;
//   - the channel's statement is compared with our table: paid there but not here is repaired, paid here but not
//     there is flagged.
// Every repair is recorded in the event log. Each step is idempotent: a sweep run twice does what one does.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Knex } from 'knex';
import type { Logger } from '../observability/logger';
import { metrics } from '../observability/metrics';
import { restartPaymentWorkflow, sendMoneyBack } from '../payments/workflows';
import type { Config } from '../config';
import { paymentWorkflowId, requerySignal } from '../workflows/definitions';
import { DECIDED_STATUSES, type DecidedStatus, isPaid, isUnpaidFinal } from '../workflows/states';
import { findChannel } from '../channels';
import type { PaymentChannel } from '../channels/types';
import type { OrderNotifier } from './order-notifier';
import { type PaymentRow, PaymentsRepository } from '../db/payments-repo';

export interface ReconcileDeps {
  db: Knex;
  logger: Logger;
  temporal: Client;
  channels: Record<string, PaymentChannel>;
  orders: OrderNotifier;
  config: Pick<Config, 'temporal' | 'payments'>;
}

export interface SweepResult {
  examined: number;
  restarted: string[];
  nudged: string[];
}

export interface NotifyResult {
  examined: number;
  notified: string[];
  stillRetrying: number;
}

export interface StatementResult {
  channel: string;
  entries: number;
  /** Paid at the channel, not final-paid here: requeried (workflow running) or restarted. */
  repaired: string[];
  /** Paid at the channel after an unpaid final state here: refunded or left for review, by policy. */
  lateSuccesses: string[];
  /** Paid at the channel for a payment id we do not have. */
  unknownAtChannel: string[];
  /** SUCCESS here, absent from the channel's statement. */
  notAtChannel: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reconciliation needs the whole set of dependencies; a worker built without them fails these calls loudly. */
export function requireReconcileDeps(
  deps: Partial<ReconcileDeps> & Pick<ReconcileDeps, 'db' | 'logger'>,
): ReconcileDeps {
  const { temporal, channels, orders, config } = deps;
  if (!temporal || !channels || !orders || !config) {
    throw ApplicationFailure.nonRetryable(
      'this worker was built without the reconciliation dependencies',
      'NotConfigured',
    );
  }
  return { ...deps, temporal, channels, orders, config };
}

export function createReconcileActivities(partial: Partial<ReconcileDeps> & Pick<ReconcileDeps, 'db' | 'logger'>) {
  const repo = new PaymentsRepository(partial.db);
  // Resolved at call time, so a worker without them still runs payments.
  const d = () => requireReconcileDeps(partial);
  const heartbeat = (detail: unknown) => Context.current().heartbeat(detail);
  /** Every repair goes to the event log and to the metrics. */
  const recordRepair = async (event: Parameters<PaymentsRepository['recordEvent']>[0]) => {
    metrics.reconcileRepairs.inc({ kind: event.type.replace(/^(reconcile|anomaly):/, '') });
    await repo.recordEvent(event);
  };

  async function workflowRunning(paymentId: string): Promise<boolean> {
    try {
      const description = await d().temporal.workflow.getHandle(paymentWorkflowId(paymentId)).describe();
      return description.status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async function restart(row: PaymentRow, why: string): Promise<void> {
    await restartPaymentWorkflow(d().temporal, row, d().config);
    await recordRepair({
      paymentId: row.id,
      channel: row.channel,
      source: 'system',
      type: 'reconcile:restart',
      payload: { why, status: row.status },
      outcome: 'restarted',
    });
    d().logger.warn({ paymentId: row.id, why }, 'reconciliation restarted a payment workflow');
  }

  async function lateSuccessFound(row: PaymentRow): Promise<void> {
    const action = await sendMoneyBack(d(), row, 'statement', { by: 'query' });
    await recordRepair({
      paymentId: row.id,
      channel: row.channel,
      source: 'system',
      type: 'anomaly:late_success',
      payload: { foundBy: 'statement', statusBefore: row.status, action },
      outcome: 'anomaly',
    });
  }

  return {
    /** (a) Not final, no running workflow: start it again (it picks up where the channel is). */
    async repairOrphans(input: { minAgeMs: number; limit: number }): Promise<SweepResult> {
      const rows = await partial
        .db<PaymentRow>('payments')
        .whereIn('status', ['UNPAID', 'PAYING'])
        .where('created_at', '<', new Date(Date.now() - input.minAgeMs))
        .orderBy('created_at')
        .limit(input.limit);
      const result: SweepResult = { examined: rows.length, restarted: [], nudged: [] };
      for (const row of rows) {
        heartbeat({ paymentId: row.id });
        if (!(await workflowRunning(row.id))) {
          await restart(row, 'not final and no running workflow');
          result.restarted.push(row.id);
        } else if (row.expires_at.getTime() + input.minAgeMs < Date.now()) {
          // Running but well past expiry (e.g. the channel was down): ask it to look again now.
          await d()
            .temporal.workflow.getHandle(paymentWorkflowId(row.id))
            .signal(requerySignal, { requestedBy: 'reconciler' });
          // Recorded like every repair, so what it resolves is counted as reconciliation's work.
          await recordRepair({
            paymentId: row.id,
            channel: row.channel,
            source: 'system',
            type: 'reconcile:nudge',
            payload: { why: 'running past expiry', status: row.status },
            outcome: 'nudged',
          });
          d().logger.warn({ paymentId: row.id }, 'reconciliation asked a payment running past expiry to query now');
          result.nudged.push(row.id);
        }
      }
      return result;
    },

    /** (b) Final, order service never acknowledged, workflow gone: notify from here, same idempotency key. */
    async repairUnacknowledged(input: { minAgeMs: number; limit: number }): Promise<NotifyResult> {
      const rows = await partial
        .db<PaymentRow>('payments')
        .whereIn('status', DECIDED_STATUSES)
        .whereNull('order_notified_at')
        .where('finalized_at', '<', new Date(Date.now() - input.minAgeMs))
        .orderBy('finalized_at')
        .limit(input.limit);
      const result: NotifyResult = { examined: rows.length, notified: [], stillRetrying: 0 };
      for (const row of rows) {
        heartbeat({ paymentId: row.id });
        if (await workflowRunning(row.id)) {
          result.stillRetrying++; // the workflow's own retries are on it
          continue;
        }
        const status = row.status as DecidedStatus;
        const ack = await d().orders.notify({
          orderId: row.order_id,
          paymentId: row.id,
          status,
          amount: row.amount,
          currency: row.currency,
          idempotencyKey: `${paymentWorkflowId(row.id)}:notify-order:${status}`,
        });
        await repo.markOrderNotified(row.id, new Date());
        await recordRepair({
          paymentId: row.id,
          channel: row.channel,
          source: 'system',
          type: 'reconcile:notify',
          payload: ack,
          outcome: ack.accepted ? 'accepted' : `refused:${ack.reason ?? 'unknown'}`,
        });
        if (!ack.accepted && status === 'SUCCESS') {
          await sendMoneyBack(d(), row, 'order_refused', { orderRefusal: ack.reason ?? 'unknown' });
        }
        result.notified.push(row.id);
      }
      return result;
    },

    /** (c) The channel's statement against our table. */
    async reconcileStatement(input: { channel: string; lookbackMs: number }): Promise<StatementResult> {
      const channel = findChannel(d().channels, input.channel);
      if (!channel) throw new Error(`no channel named ${input.channel}`);
      const now = new Date();
      const from = new Date(now.getTime() - input.lookbackMs);
      // A channel whose statement lags (daily bills out the next morning) is compared only as far as it is final:
      // "no bill yet" is not "no money".
      const readyUntil = channel.statementReadyUntil?.(now);
      const to = readyUntil && readyUntil < now ? readyUntil : now;
      const entries = to > from ? await channel.statement({ from, to }) : [];
      const result: StatementResult = {
        channel: input.channel,
        entries: entries.length,
        repaired: [],
        lateSuccesses: [],
        unknownAtChannel: [],
        notAtChannel: [],
      };
      const seen = new Set<string>();
      for (const entry of entries) {
        heartbeat({ channelPaymentId: entry.channelPaymentId });
        seen.add(entry.paymentId);
        if (entry.refundedAmount >= entry.amount) continue; // the money went back already
        const row = UUID.test(entry.paymentId) ? await repo.get(entry.paymentId) : undefined;
        if (!row) {
          await recordRepair({
            paymentId: null,
            channel: input.channel,
            source: 'system',
            type: 'reconcile:unknown-at-channel',
            channelEventId: `statement:${entry.channelPaymentId}`,
            payload: entry,
            outcome: 'flagged',
          });
          result.unknownAtChannel.push(entry.channelPaymentId);
          continue;
        }
        if (isPaid(row.status)) continue;
        const running = await workflowRunning(row.id);
        if (running) {
          // Its workflow will hear it on its next query; make that now.
          await d()
            .temporal.workflow.getHandle(paymentWorkflowId(row.id))
            .signal(requerySignal, { requestedBy: 'statement' });
          result.repaired.push(row.id);
        } else if (isUnpaidFinal(row.status)) {
          await lateSuccessFound(row);
          result.lateSuccesses.push(row.id);
        } else {
          await restart(row, 'paid at the channel, open here, no workflow');
          result.repaired.push(row.id);
        }
      }
      // Paid here, but the channel has no record of money for it in the window: flag for a person.
      const paidHere = await partial
        .db<PaymentRow>('payments')
        .where({ channel: input.channel })
        .whereIn('status', ['SUCCESS'])
        .whereBetween('paid_at', [from, new Date(to.getTime() - 60_000)]);
      for (const row of paidHere) {
        if (seen.has(row.id)) continue;
        await recordRepair({
          paymentId: row.id,
          channel: input.channel,
          source: 'system',
          type: 'reconcile:not-at-channel',
          channelEventId: `not-at-channel:${row.id}`,
          payload: { paidAt: row.paid_at, window: { from, to } },
          outcome: 'flagged',
        });
        result.notAtChannel.push(row.id);
      }
      if (
        result.repaired.length +
          result.lateSuccesses.length +
          result.unknownAtChannel.length +
          result.notAtChannel.length >
        0
      ) {
        d().logger.warn({ channel: input.channel, ...summarize(result) }, 'statement reconciliation found differences');
      }
      return result;
    },
  };
}

function summarize(r: StatementResult) {
  return {
    repaired: r.repaired.length,
    lateSuccesses: r.lateSuccesses.length,
    unknownAtChannel: r.unknownAtChannel.length,
    notAtChannel: r.notAtChannel.length,
  };
}
