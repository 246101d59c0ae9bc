// The chaos run's judge: compares three sources of truth (the channel's records, our payments table, the order
// service's orders) and lists every broken promise. Pure: the chaos run gathers the data, this decides.
import { isDecided, isPaymentStatus } from '../../workflows/states';

export interface ChannelRecord {
  channelPaymentId: string;
  /** Our payment id. */
  merchantOrderId: string;
  status: string;
  amount: number;
  paidAt?: string;
  refunds: { status: string; amount: number }[];
}

export interface OurPayment {
  id: string;
  order_id: string;
  status: string;
  resolved_by: string | null;
  expires_at: Date;
  finalized_at: Date | null;
  order_notified_at: Date | null;
}

export interface OrderRecord {
  orderId: string;
  status: string;
  paymentId: string | null;
  transitions: { paymentId: string; paymentStatus: string; toStatus: string; accepted: boolean; at: string }[];
}

export interface EventRecord {
  payment_id: string | null;
  type: string;
}

export interface AuditInput {
  channel: ChannelRecord[];
  payments: OurPayment[];
  orders: OrderRecord[];
  events: EventRecord[];
  now: Date;
  /** How long after expiry (or after a refund started) a payment may still be unsettled. */
  graceMs: number;
}

export interface Summary {
  n: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface AuditReport {
  counts: {
    payments: number;
    byStatus: Record<string, number>;
    channelByStatus: Record<string, number>;
    ordersPaid: number;
  };
  violations: {
    /** Paid at the channel (and not being refunded), but the order is not paid by it. */
    dropOrders: string[];
    /** The order service says paid, the channel does not. */
    paidInOrderNotAtChannel: string[];
    /** More than one payment transition for an order or a payment. */
    multipleTransitions: string[];
    /** Not final well after expiry. */
    notFinalAfterDeadline: string[];
    /** Refunding well after it started. */
    refundsNotFinished: string[];
    /** SUCCESS here, not SUCCESS at the channel. */
    paidHereNotAtChannel: string[];
    /** Final, but the order service never acknowledged it. */
    unacknowledged: string[];
  };
  totalViolations: number;
  lateSuccesses: { payments: number; outcomes: Record<string, number> };
  /** Channel success -> order paid, by recovery path. */
  channelSuccessToOrderPaidMs: Record<string, Summary>;
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! : null;
  return {
    n: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted.length ? sorted[sorted.length - 1]! : null,
  };
}

const count = (values: string[]) =>
  values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {});

const UNSETTLED = ['UNPAID', 'PAYING'];
const REFUND_STATES = ['REFUNDING', 'REFUNDED'];

/** Every invariant the audit checks, each with no violation yet (what a clean run reports). */
export function noViolations(): AuditReport['violations'] {
  return {
    dropOrders: [],
    paidInOrderNotAtChannel: [],
    multipleTransitions: [],
    notFinalAfterDeadline: [],
    refundsNotFinished: [],
    paidHereNotAtChannel: [],
    unacknowledged: [],
  };
}

export function audit(input: AuditInput): AuditReport {
  const ours = new Map(input.payments.map((p) => [p.id, p]));
  const channelByPayment = new Map(input.channel.map((c) => [c.merchantOrderId, c]));
  const orderById = new Map(input.orders.map((o) => [o.orderId, o]));
  const eventsByPayment = new Map<string, string[]>();
  for (const e of input.events) {
    if (!e.payment_id) continue;
    eventsByPayment.set(e.payment_id, [...(eventsByPayment.get(e.payment_id) ?? []), e.type]);
  }
  const now = input.now.getTime();

  const v = noViolations();

  for (const c of input.channel) {
    if (c.status !== 'SUCCESS') continue;
    const mine = ours.get(c.merchantOrderId);
    if (mine && REFUND_STATES.includes(mine.status)) continue; // being refunded: judged below
    const order = mine ? orderById.get(mine.order_id) : undefined;
    if (!order || order.status !== 'PAID' || order.paymentId !== c.merchantOrderId)
      v.dropOrders.push(c.merchantOrderId);
  }

  for (const o of input.orders) {
    if (o.status === 'PAID') {
      const c = o.paymentId ? channelByPayment.get(o.paymentId) : undefined;
      if (!c || c.status !== 'SUCCESS') v.paidInOrderNotAtChannel.push(o.orderId);
    }
    const paidTransitions = o.transitions.filter((t) => t.accepted && t.toStatus === 'PAID').length;
    const perPayment = count(o.transitions.map((t) => t.paymentId));
    if (paidTransitions > 1 || Object.values(perPayment).some((n) => n > 1)) v.multipleTransitions.push(o.orderId);
  }

  for (const p of input.payments) {
    if (UNSETTLED.includes(p.status) && p.expires_at.getTime() + input.graceMs < now)
      v.notFinalAfterDeadline.push(p.id);
    if (p.status === 'REFUNDING' && (p.finalized_at?.getTime() ?? 0) + input.graceMs < now)
      v.refundsNotFinished.push(p.id);
    if (p.status === 'SUCCESS' && channelByPayment.get(p.id)?.status !== 'SUCCESS') v.paidHereNotAtChannel.push(p.id);
    if (isPaymentStatus(p.status) && isDecided(p.status) && !p.order_notified_at) v.unacknowledged.push(p.id);
  }

  const late = input.payments.filter((p) =>
    (eventsByPayment.get(p.id) ?? []).some((t) => t === 'anomaly:late_success' || t === 'anomaly:order_refused'),
  );

  const byPath: Record<string, number[]> = {};
  for (const p of input.payments) {
    if (p.status !== 'SUCCESS') continue;
    const c = channelByPayment.get(p.id);
    const order = orderById.get(p.order_id);
    const paid = order?.transitions.find((t) => t.paymentId === p.id && t.accepted && t.toStatus === 'PAID');
    if (!c?.paidAt || !paid) continue;
    const path = (eventsByPayment.get(p.id) ?? []).some((t) => t.startsWith('reconcile:'))
      ? 'reconciliation'
      : (p.resolved_by ?? 'unknown');
    (byPath[path] ??= []).push(Date.parse(paid.at) - Date.parse(c.paidAt));
  }

  return {
    counts: {
      payments: input.payments.length,
      byStatus: count(input.payments.map((p) => p.status)),
      channelByStatus: count(input.channel.map((c) => c.status)),
      ordersPaid: input.orders.filter((o) => o.status === 'PAID').length,
    },
    violations: v,
    totalViolations: Object.values(v).reduce((n, list) => n + list.length, 0),
    lateSuccesses: { payments: late.length, outcomes: count(late.map((p) => p.status)) },
    channelSuccessToOrderPaidMs: Object.fromEntries(
      Object.entries(byPath).map(([k, values]) => [k, summarize(values)]),
    ),
  };
}
