// Activities come from a factory that receives their dependencies; the worker builds those once.
// Each one is idempotent: the channel deduplicates creation and closing, the order service deduplicates on our
// idempotency key, and the repository's updates are guarded, so running any of them twice has the effect of once.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import type { Config } from '../config';
import type { Logger } from '../observability/logger';
import { metrics } from '../observability/metrics';
import type { Anomaly, OperatorActionRecord } from '../workflows/definitions';
import type { NoticeStatus } from '../workflows/order-notice';
import { isDecided, type PaymentStatus, type ResolvedBy } from '../workflows/states';
import { findChannel } from '../channels';
import {
  type BuyerHandoff,
  type ChannelPaymentView,
  type CreateChannelPaymentOutcome,
  handoffUrl,
  type PaymentChannel,
} from '../channels/types';
import type { OrderAck, OrderNotifier, PaymentResultNotice } from './order-notifier';
import { PaymentsRepository } from '../db/payments-repo';
import { createReconcileActivities } from './reconcile';

export interface ActivityDeps {
  db: Knex;
  logger: Logger;
  channels?: Record<string, PaymentChannel>;
  orders?: OrderNotifier;
  /** Where channels send callbacks: `${callbackBaseUrl}/callbacks/<channel>`. */
  callbackBaseUrl?: string;
  /** For reconciliation: a Temporal client (to find, restart and signal workflows) and the payment policy. */
  temporal?: Client;
  config?: Pick<Config, 'temporal' | 'payments'>;
}

export interface ChannelCallInput {
  paymentId: string;
  channel: string;
  channelPaymentId?: string;
}

export interface CreateAtChannelInput extends ChannelCallInput {
  orderId: string;
  amount: number;
  currency: string;
  /** ISO; passed on to channels that can end the trade themselves at that moment. */
  expiresAt?: string;
  /** What is bought, shown to the buyer by the channel (else "order <orderId>"). */
  description?: string;
}

export interface QueryAtChannelInput extends ChannelCallInput {
  /** Why the query runs, for the event log: scheduled, expiry, operator, verify (a callback did not match), late. */
  reason: 'scheduled' | 'expiry' | 'operator' | 'verify' | 'late';
}

export interface RecordFinalInput {
  paymentId: string;
  status: PaymentStatus;
  resolvedBy?: ResolvedBy;
  paidAt?: string;
  /** Why, in words for a person (kept as the payment's status reason). */
  reason?: string;
  /** Workflow time of the decision, ISO. */
  decidedAt: string;
}

/** A payment as an operator action needs to see it (workflows/operator.ts). */
export interface OperatorView {
  payment: { paymentId: string; orderId: string; amount: number; currency: string; channel: string };
  status: PaymentStatus;
  channelPaymentId?: string;
  /**
   * The decision the order service is (or was) told: the decided status, or the operator's (ACCEPTED; REVIEW_CLOSED
   * when the order had heard nothing before); none while undecided.
   */
  noticeStatus?: NoticeStatus;
  orderNotified: boolean;
}

export interface RecordFinalResult {
  /** The status the row holds afterwards: the one asked for, or the one that was there (a refused move). */
  status: PaymentStatus;
  resolvedBy?: ResolvedBy;
}

export function createActivities(deps: ActivityDeps) {
  const repo = new PaymentsRepository(deps.db);

  const channelFor = (name: string): PaymentChannel => {
    const channel = deps.channels ? findChannel(deps.channels, name) : undefined;
    // Not retryable: no amount of waiting makes an unconfigured channel appear.
    if (!channel)
      throw ApplicationFailure.nonRetryable(`no payment channel named "${name}" is configured`, 'UnknownChannel');
    return channel;
  };

  const log = (paymentId: string) =>
    deps.logger.child({ paymentId, workflowId: Context.current().info.workflowExecution?.workflowId });

  return {
    ...createReconcileActivities(deps),

    /** Does nothing: the benchmark's baseline and the smoke test's round trip. */
    async noop(): Promise<void> {},

    /**
     * Creates the payment at the channel (idempotent there on our payment id) and, once created, records it as
     * PAYING with the channel's id and pay URL. Returns the channel's outcome and the status the row holds.
     */
    async createChannelPayment(
      input: CreateAtChannelInput,
    ): Promise<
      | (Extract<CreateChannelPaymentOutcome, { outcome: 'rejected' }> & { status: PaymentStatus })
      | { outcome: 'created'; channelPaymentId: string; handoff: BuyerHandoff; payUrl?: string; status: PaymentStatus }
    > {
      const outcome = await channelFor(input.channel).create({
        paymentId: input.paymentId,
        amount: input.amount,
        currency: input.currency,
        description: input.description ?? `order ${input.orderId}`,
        ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
        notifyUrl: `${deps.callbackBaseUrl ?? ''}/callbacks/${input.channel}`,
      });
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: 'system',
        type: 'create',
        payload: outcome.outcome === 'created' ? { channelPaymentId: outcome.channelPaymentId } : outcome,
        outcome: outcome.outcome,
      });
      if (outcome.outcome === 'rejected') {
        log(input.paymentId).warn({ reason: outcome.reason }, 'channel refused the payment');
        return { ...outcome, status: 'UNPAID' };
      }
      const payUrl = handoffUrl(outcome.handoff);
      const result = await repo.transition(input.paymentId, 'PAYING', {
        channelPaymentId: outcome.channelPaymentId,
        handoff: outcome.handoff,
        ...(payUrl ? { payUrl } : {}),
      });
      if (!result.ok)
        log(input.paymentId).warn({ status: result.row?.status }, 'payment was not UNPAID when it became PAYING');
      return { ...outcome, ...(payUrl ? { payUrl } : {}), status: result.row?.status ?? 'PAYING' };
    },

    async queryChannelPayment(input: QueryAtChannelInput): Promise<ChannelPaymentView> {
      let view: ChannelPaymentView;
      try {
        view = await channelFor(input.channel).query({
          paymentId: input.paymentId,
          channelPaymentId: input.channelPaymentId,
        });
      } catch (err) {
        metrics.channelQueries.inc({ channel: input.channel, reason: input.reason, outcome: 'error' });
        // A query that got no answer is part of the payment's story too (a stuck payment's is mostly these).
        await repo
          .recordEvent({
            paymentId: input.paymentId,
            channel: input.channel,
            source: 'query',
            type: `query:${input.reason}`,
            payload: {
              error: err instanceof Error ? err.message : String(err),
              attempt: Context.current().info.attempt,
            },
            outcome: 'error',
          })
          .catch((writeErr: unknown) =>
            log(input.paymentId).warn(
              { err: writeErr instanceof Error ? writeErr.message : String(writeErr) },
              'could not record a failed channel query',
            ),
          );
        throw err;
      }
      metrics.channelQueries.inc({ channel: input.channel, reason: input.reason, outcome: view.state });
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: 'query',
        type: `query:${input.reason}`,
        payload: view,
        outcome: view.state,
      });
      return view;
    },

    async closeChannelPayment(input: ChannelCallInput & { reason: 'expiry' | 'cancel' }): Promise<ChannelPaymentView> {
      const view = await channelFor(input.channel).close({
        paymentId: input.paymentId,
        channelPaymentId: input.channelPaymentId,
      });
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: input.reason === 'cancel' ? 'operator' : 'system',
        type: `close:${input.reason}`,
        payload: view,
        outcome: view.state,
      });
      return view;
    },

    /**
     * Refunds a payment in full at the channel, idempotent on the refund key (one refund per payment). The channel's
     * payment id comes from our row, or from the channel when creation's answer was lost.
     */
    async refundChannelPayment(input: { paymentId: string; channel: string; amount: number; refundKey: string }) {
      const row = await repo.get(input.paymentId);
      let channelPaymentId = row?.channel_payment_id ?? undefined;
      if (!channelPaymentId)
        channelPaymentId = (await channelFor(input.channel).query({ paymentId: input.paymentId })).channelPaymentId;
      if (!channelPaymentId) return { outcome: 'rejected' as const, reason: 'the channel does not know this payment' };
      const outcome = await channelFor(input.channel).refund({
        paymentId: input.paymentId,
        channelPaymentId,
        refundKey: input.refundKey,
        amount: input.amount,
      });
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: 'system',
        type: 'refund',
        payload: outcome,
        outcome: outcome.outcome === 'accepted' ? `refund:${outcome.state}` : `refund-rejected:${outcome.reason}`,
      });
      metrics.refunds.inc({ outcome: outcome.outcome });
      return { ...outcome, channelPaymentId };
    },

    async queryChannelRefund(input: {
      paymentId: string;
      channel: string;
      channelPaymentId: string;
      refundId: string;
    }) {
      const state = await channelFor(input.channel).queryRefund({
        channelPaymentId: input.channelPaymentId,
        refundId: input.refundId,
      });
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: 'query',
        type: 'query:refund',
        payload: { refundId: input.refundId, state },
        outcome: state,
      });
      return state;
    },

    async recordFinalState(input: RecordFinalInput): Promise<RecordFinalResult> {
      const result = await repo.transition(input.paymentId, input.status, {
        ...(input.resolvedBy ? { resolvedBy: input.resolvedBy } : {}),
        ...(input.paidAt ? { paidAt: new Date(input.paidAt) } : {}),
        ...(input.reason ? { statusReason: input.reason } : {}),
        finalizedAt: new Date(input.decidedAt),
      });
      if (!result.row)
        throw ApplicationFailure.nonRetryable(`payment ${input.paymentId} does not exist`, 'PaymentMissing');
      if (!result.ok) {
        log(input.paymentId).warn(
          { wanted: input.status, status: result.row.status },
          'state change refused by the state machine',
        );
      } else if (result.changed) {
        metrics.paymentsFinished.inc({
          channel: result.row.channel,
          status: input.status,
          resolved_by: result.row.resolved_by ?? 'none',
        });
      }
      return { status: result.row.status, ...(result.row.resolved_by ? { resolvedBy: result.row.resolved_by } : {}) };
    },

    /**
     * The payment as an operator action sees it. What the order service is told: for a status that followed a
     * decision (REFUNDING, REFUNDED, NEEDS_REVIEW, a closed review), the last decided status in its history.
     */
    async operatorView(paymentId: string): Promise<OperatorView> {
      const row = await repo.get(paymentId);
      if (!row) throw ApplicationFailure.nonRetryable(`payment ${paymentId} does not exist`, 'PaymentMissing');
      let noticeStatus: NoticeStatus | undefined =
        isDecided(row.status) || row.status === 'ACCEPTED' ? row.status : undefined;
      if (!noticeStatus) {
        const history = await repo.statusHistory(paymentId, 0);
        noticeStatus = history
          .map((h) => h.status)
          .filter(isDecided)
          .at(-1);
        // A review settled for an order that had heard nothing: it was told "not paid" under the review's own key.
        if (!noticeStatus && (row.status === 'REVIEW_CLOSED' || row.status === 'REFUNDED')) noticeStatus = row.status;
      }
      return {
        payment: {
          paymentId,
          orderId: row.order_id,
          amount: Number(row.amount),
          currency: row.currency,
          channel: row.channel,
        },
        status: row.status,
        ...(row.channel_payment_id ? { channelPaymentId: row.channel_payment_id } : {}),
        ...(noticeStatus ? { noticeStatus } : {}),
        orderNotified: row.order_notified_at !== null,
      };
    },

    /** An operator's action in the payment's audit log, written by the workflow that did it (once per eventKey). */
    async recordOperatorAction(input: OperatorActionRecord): Promise<void> {
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: 'operator',
        type: `operator:${input.action}`,
        eventKey: input.eventKey,
        payload: { actor: input.actor, reason: input.reason, result: input.message },
        outcome: input.outcome,
      });
    },

    async recordAnomaly(input: { paymentId: string; channel: string; anomaly: Anomaly }): Promise<void> {
      log(input.paymentId).warn({ kind: input.anomaly.kind }, 'payment anomaly');
      metrics.anomalies.inc({ kind: input.anomaly.kind });
      await repo.recordEvent({
        paymentId: input.paymentId,
        channel: input.channel,
        source: 'system',
        type: `anomaly:${input.anomaly.kind}`,
        payload: input.anomaly,
        outcome: 'anomaly',
      });
    },

    /**
     * Tells the order service the final state and records its acknowledgement. Any failure to get one throws, so
     * the retry policy (capped backoff, no attempt limit) keeps trying: the notification is never abandoned.
     */
    async notifyOrderService(notice: PaymentResultNotice & { channel: string }): Promise<OrderAck> {
      if (!deps.orders) throw ApplicationFailure.nonRetryable('no order service is configured', 'NoOrderService');
      const { attempt } = Context.current().info;
      if (attempt > 1)
        log(notice.paymentId).info({ attempt, status: notice.status }, 'retrying the order-service notification');
      const { channel, ...rest } = notice;
      let ack: OrderAck;
      try {
        ack = await deps.orders.notify(rest);
      } catch (err) {
        metrics.orderNotifications.inc({ outcome: 'failed' });
        throw err;
      }
      metrics.orderNotifications.inc({ outcome: ack.accepted ? 'acknowledged' : 'refused' });
      const row = await repo.get(notice.paymentId);
      if (ack.accepted && notice.status === 'SUCCESS' && row?.paid_at) {
        metrics.successToOrderPaid.observe((Date.now() - row.paid_at.getTime()) / 1000);
      }
      await repo.markOrderNotified(notice.paymentId, new Date());
      await repo.recordEvent({
        paymentId: notice.paymentId,
        channel,
        source: 'system',
        type: 'order-notified',
        payload: ack,
        outcome: ack.accepted ? 'accepted' : `refused:${ack.reason ?? 'unknown'}`,
      });
      return ack;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
