// How a payment's workflows are started, and what is done with money that must go back, outside a workflow. The
// API (create, a late callback), the reconciler (restart an orphan, a late success in the statement, a refusal
// found after the workflow ended) all come here, so they cannot start workflows differently or decide differently
// from the payment workflow itself: the decision is workflows/money-back.ts, which the workflow uses too.
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { type PaymentRow, PaymentsRepository } from '../db/payments-repo';
import type { Db } from '../db/knex';
import {
  type OperatorWorkflowInput,
  operatorWorkflowId,
  type PaymentInput,
  paymentWorkflowId,
  refundWorkflowId,
  searchAttributes,
} from '../workflows/definitions';
import { formatMoney } from '../workflows/money';
import {
  type MoneyBackAction,
  type MoneyBackReason,
  moneyBackAction,
  moneyBackReason,
  refundInput,
  refundSummary,
} from '../workflows/money-back';
import type { paymentWorkflow } from '../workflows/payment';
import type { refundWorkflow } from '../workflows/refund';
import type { ResolvedBy } from '../workflows/states';

/** What starting a payment's workflows needs: the task queue and the payment policy. */
export interface StartConfig {
  temporal: Pick<Config['temporal'], 'taskQueue'>;
  payments: Config['payments'];
}

export function paymentInput(row: PaymentRow, payments: Config['payments']): PaymentInput {
  return {
    paymentId: row.id,
    orderId: row.order_id,
    amount: row.amount,
    currency: row.currency,
    channel: row.channel,
    ...(row.description ? { description: row.description } : {}),
    expiresAt: row.expires_at.toISOString(),
    policy: {
      querySchedule: payments.querySchedule,
      lateWindowMs: payments.lateWindowMs,
      notifyInitialBackoffMs: payments.notifyInitialBackoffMs,
      notifyMaxBackoffMs: payments.notifyMaxBackoffMs,
      lateSuccessPolicy: payments.lateSuccessPolicy,
    },
  };
}

/** The start options of a payment's workflow; the caller adds its id conflict and reuse policies. */
export function paymentStartOptions(row: PaymentRow, config: StartConfig) {
  return {
    workflowId: paymentWorkflowId(row.id),
    // What the Web UI shows at the top of the workflow: which payment this is, at a glance.
    staticSummary: `Payment ${formatMoney(row.amount, row.currency)} for order ${row.order_id} via ${row.channel}`,
    staticDetails: [
      `**Payment** \`${row.id}\``,
      `**Order** \`${row.order_id}\``,
      `**Amount** ${formatMoney(row.amount, row.currency)} (${row.amount} minor units)`,
      `**Channel** ${row.channel}`,
      `**Expires** ${row.expires_at.toISOString()}`,
    ].join('\n\n'),
    taskQueue: config.temporal.taskQueue,
    args: [paymentInput(row, config.payments)] as [PaymentInput],
    typedSearchAttributes: [
      { key: searchAttributes.paymentStatus, value: row.status },
      { key: searchAttributes.orderId, value: row.order_id },
      { key: searchAttributes.paymentChannel, value: row.channel },
    ],
  };
}

/** How long the operator workflow waits for another action before it ends (the next action starts it again). */
export const OPERATOR_IDLE_MS = 60_000;

/** The start options of a payment's operator workflow (workflows/operator.ts), for update-with-start. */
export function operatorStartOptions(row: PaymentRow, config: StartConfig) {
  return {
    workflowId: operatorWorkflowId(row.id),
    staticSummary: `Operator actions on payment ${formatMoney(row.amount, row.currency)} for order ${row.order_id}`,
    taskQueue: config.temporal.taskQueue,
    args: [
      {
        paymentId: row.id,
        channel: row.channel,
        policy: paymentInput(row, config.payments).policy,
        idleMs: OPERATOR_IDLE_MS,
      },
    ] as [OperatorWorkflowInput],
    typedSearchAttributes: [
      { key: searchAttributes.orderId, value: row.order_id },
      { key: searchAttributes.paymentChannel, value: row.channel },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING' as const,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
  };
}

/** Starts a payment's workflow again when none runs (the reconciler's repair); a running one is left alone. */
export async function restartPaymentWorkflow(temporal: Client, row: PaymentRow, config: StartConfig): Promise<void> {
  await temporal.workflow.start<typeof paymentWorkflow>('paymentWorkflow', {
    ...paymentStartOptions(row, config),
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
}

/** Starts the payment's refund unless it runs already (one refund per payment). */
export async function startRefund(
  temporal: Client,
  row: PaymentRow,
  reason: MoneyBackReason,
  config: StartConfig,
): Promise<void> {
  const input = refundInput(
    { paymentId: row.id, orderId: row.order_id, channel: row.channel, amount: row.amount, currency: row.currency },
    reason,
    config.payments.querySchedule,
  );
  await temporal.workflow.start<typeof refundWorkflow>('refundWorkflow', {
    workflowId: refundWorkflowId(row.id),
    staticSummary: refundSummary(input),
    taskQueue: config.temporal.taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: searchAttributes.paymentStatus, value: 'REFUNDING' },
      { key: searchAttributes.orderId, value: row.order_id },
      { key: searchAttributes.paymentChannel, value: row.channel },
    ],
  });
}

export interface MoneyBackDeps {
  temporal: Client;
  db: Db;
  config: StartConfig;
}

/**
 * Money found going the wrong way where no payment workflow runs any more: refund it (start the refund workflow) or
 * leave it NEEDS_REVIEW, as workflows/money-back.ts decides. Returns what was done; the caller records why.
 */
export async function sendMoneyBack(
  deps: MoneyBackDeps,
  row: PaymentRow,
  reason: MoneyBackReason,
  details: { by?: ResolvedBy; orderRefusal?: string } = {},
): Promise<MoneyBackAction> {
  const action = moneyBackAction({
    reason,
    policy: deps.config.payments.lateSuccessPolicy,
    ...(details.orderRefusal ? { orderRefusal: details.orderRefusal } : {}),
  });
  if (action === 'refund') await startRefund(deps.temporal, row, reason, deps.config);
  else
    await new PaymentsRepository(deps.db).transition(row.id, 'NEEDS_REVIEW', {
      ...(details.by ? { resolvedBy: details.by } : {}),
      statusReason: `${moneyBackReason(reason, details.orderRefusal, row.status)}; a person decides`,
    });
  return action;
}
