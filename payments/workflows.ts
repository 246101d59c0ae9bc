// How a payment's workflows are started from its row: by the API (create), by the reconciler (restart an orphan),
// and, for refunds, by whoever finds money that must go back. One definition, so they cannot start them differently.
import type { Client } from '@temporalio/client';
import type { PaymentRow } from '../db/payments-repo';
import type { Config } from '../config';
import {
  type PaymentInput,
  paymentWorkflowId,
  type RefundInput,
  refundWorkflowId,
  searchAttributes,
} from '../workflows/definitions';
import type { paymentWorkflow } from '../workflows/payment';
import type { refundWorkflow } from '../workflows/refund';

type StartConfig = Pick<Config, 'temporal' | 'payments'>;

export function paymentInput(row: PaymentRow, payments: Config['payments']): PaymentInput {
  return {
    paymentId: row.id,
    orderId: row.order_id,
    amount: row.amount,
    currency: row.currency,
    channel: row.channel,
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

/** Money for people: 2599 CNY -> "25.99 CNY" (ISO 4217 minor units from Intl). */
export function formatMoney(amount: number, currency: string): string {
  const digits =
    new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

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

/** Starts the payment's refund unless it runs already (one refund per payment). */
export async function startRefund(
  temporal: Client,
  row: PaymentRow,
  reason: RefundInput['reason'],
  config: StartConfig,
): Promise<void> {
  const input: RefundInput = {
    paymentId: row.id,
    orderId: row.order_id,
    channel: row.channel,
    amount: row.amount,
    currency: row.currency,
    reason,
    querySchedule: config.payments.querySchedule,
  };
  await temporal.workflow.start<typeof refundWorkflow>('refundWorkflow', {
    workflowId: refundWorkflowId(row.id),
    staticSummary: `Refund ${formatMoney(row.amount, row.currency)} of payment ${row.id} (${reason})`,
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

export type PaymentWorkflow = typeof paymentWorkflow;
