// Shared by the API, the worker, the workflows and the tests: names of things on the Temporal side.
// Imports nothing from Node (workflow code imports it).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DEFAULT_TASK_QUEUE = 'payments';

/** Custom search attributes, registered on the dev server by `npm start` and by the test setup. */
export const searchAttributes = {
  paymentStatus: defineSearchAttributeKey('PaymentStatus', SearchAttributeType.KEYWORD),
  orderId: defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD),
  paymentChannel: defineSearchAttributeKey('PaymentChannel', SearchAttributeType.KEYWORD),
  resolvedBy: defineSearchAttributeKey('ResolvedBy', SearchAttributeType.KEYWORD),
  nextCheckAt: defineSearchAttributeKey('NextCheckAt', SearchAttributeType.DATETIME),
} as const;

export const allSearchAttributeKeys = Object.values(searchAttributes);

const PAYMENT_PREFIX = 'payment-';

/** Workflow ids are business keys: one workflow per payment, found again from the payment id alone. */
export function paymentWorkflowId(paymentId: string): string {
  return `${PAYMENT_PREFIX}${paymentId}`;
}

export function paymentIdFromWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith(PAYMENT_PREFIX) ? workflowId.slice(PAYMENT_PREFIX.length) : undefined;
}
