// The operator's common questions as Temporal list filters (visibility queries), with the times computed for the
// operator: "stuck" is open and started longer ago than the payment expiry, "overdue" has a next channel query
// (search attribute NextCheckAt) already in the past. The same text works in the Web UI's filter box.
import { PAYMENT_STATUSES, type PaymentStatus } from '../../workflows/states';

export interface ListFilters {
  /** Open (UNPAID or PAYING) and running past the payment expiry. */
  stuck?: boolean;
  /** The next channel query should already have happened. */
  overdue?: boolean;
  /** Decided, and the order service has not acknowledged: only the database knows (GET /admin/payments). */
  unacknowledged?: boolean;
  /** Paid after an unpaid final state (or refused by the order service): refunding, refunded, or for a person. */
  lateSuccesses?: boolean;
  needsReview?: boolean;
  status?: PaymentStatus;
  order?: string;
  channel?: string;
}

export interface FilterContext {
  now: Date;
  /** PAYMENT_EXPIRY in ms. */
  expiryMs: number;
  /** Only this deployment's payments: its task queue. */
  taskQueue: string;
}

export const LATE_SUCCESS_STATUSES: readonly PaymentStatus[] = ['REFUNDING', 'REFUNDED', 'NEEDS_REVIEW'];

/** "Stuck" means started before this: now minus the payment expiry. */
export function stuckBefore(ctx: FilterContext): Date {
  return new Date(ctx.now.getTime() - ctx.expiryMs);
}

/** A string literal in a visibility query. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const list = (values: readonly string[]) => `(${values.map(literal).join(', ')})`;

/** True when a filter asks something Temporal's visibility answers (everything but `unacknowledged`). */
export function needsVisibility(f: ListFilters): boolean {
  return Boolean(f.stuck || f.overdue || f.lateSuccesses || f.needsReview || f.status || f.order || f.channel);
}

/** The visibility query for the payment workflows these filters select; every condition joined by AND. */
export function visibilityQuery(f: ListFilters, ctx: FilterContext): string {
  const parts = [`WorkflowType = 'paymentWorkflow'`, `TaskQueue = ${literal(ctx.taskQueue)}`];
  if (f.stuck) {
    const startedBefore = stuckBefore(ctx).toISOString();
    parts.push(
      `PaymentStatus IN ('UNPAID', 'PAYING')`,
      `ExecutionStatus = 'Running'`,
      `StartTime < ${literal(startedBefore)}`,
    );
  }
  if (f.overdue) {
    parts.push(
      `PaymentStatus = 'PAYING'`,
      `ExecutionStatus = 'Running'`,
      `NextCheckAt < ${literal(ctx.now.toISOString())}`,
    );
  }
  if (f.lateSuccesses) parts.push(`PaymentStatus IN ${list(LATE_SUCCESS_STATUSES)}`);
  if (f.needsReview) parts.push(`PaymentStatus = 'NEEDS_REVIEW'`);
  if (f.status) parts.push(`PaymentStatus = ${literal(f.status)}`);
  if (f.order) parts.push(`OrderId = ${literal(f.order)}`);
  if (f.channel) parts.push(`PaymentChannel = ${literal(f.channel)}`);
  // The same condition twice (--overdue with --stuck) is harmless, but reads badly in a pasted filter.
  return [...new Set(parts)].join(' AND ');
}

export function isPaymentStatus(value: string): value is PaymentStatus {
  return (PAYMENT_STATUSES as readonly string[]).includes(value);
}
