// Prometheus metrics (prom-client), one registry per process. The API and the worker each expose theirs at
// /metrics; the Temporal SDK's own metrics come from its runtime (worker: see worker/main.ts).
import type { Knex } from 'knex';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ANOMALY_KINDS } from '../workflows/definitions';
import { DECIDED_STATUSES, type PaymentStatus } from '../workflows/states';

/** Not decided yet: the channel has not said (the payment's workflow waits, queries, and closes it at expiry). */
const OPEN_STATUSES: PaymentStatus[] = ['UNPAID', 'PAYING'];

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const metrics = {
  paymentsCreated: new Counter({
    name: 'payments_created_total',
    help: 'Payments created through the API',
    labelNames: ['channel'] as const,
    registers: [registry],
  }),
  paymentsFinished: new Counter({
    name: 'payments_finished_total',
    help: 'Payments that reached a final state, by channel, status and what settled it',
    labelNames: ['channel', 'status', 'resolved_by'] as const,
    registers: [registry],
  }),
  callbacks: new Counter({
    name: 'payments_callbacks_total',
    help: 'Channel callbacks received, by outcome (accepted, duplicate, rejected, late, answered_from_database, unknown_payment, error)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  }),
  channelQueries: new Counter({
    name: 'payments_channel_queries_total',
    help: 'Channel status queries, by why and what the channel answered (or error)',
    labelNames: ['channel', 'reason', 'outcome'] as const,
    registers: [registry],
  }),
  orderNotifications: new Counter({
    name: 'payments_order_notifications_total',
    help: 'Order-service notification attempts, by outcome (acknowledged, refused, failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  anomalies: new Counter({
    name: 'payments_anomalies_total',
    help: 'Anomalies recorded (late_success, order_refused, callback_mismatch, query_mismatch, refund_failed, channel_not_found)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  refunds: new Counter({
    name: 'payments_refunds_total',
    help: 'Refunds asked of the channel, by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
  reconcileRepairs: new Counter({
    name: 'payments_reconcile_repairs_total',
    help: 'Repairs made by reconciliation (restart, nudge, notify, not-at-channel, unknown-at-channel, late_success)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  dbStatements: new Counter({
    name: 'payments_db_statements_total',
    help: 'SQL statements this process sent to PostgreSQL (knex query events)',
    registers: [registry],
  }),
  successToOrderPaid: new Histogram({
    name: 'payments_success_to_order_paid_seconds',
    help: 'Time from the channel reporting a payment paid to the order service acknowledging it',
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers: [registry],
  }),
};

// The counters alerted on start at 0 for every label value known in advance: Prometheus's increase() cannot see a
// series' first increment when the series appears with it (no earlier sample), so an alert on "any late success in
// the last 15 minutes" would miss the first one after each start.
for (const kind of ANOMALY_KINDS) metrics.anomalies.inc({ kind }, 0);
for (const kind of ['restart', 'nudge', 'notify', 'not-at-channel', 'unknown-at-channel', 'late_success']) {
  metrics.reconcileRepairs.inc({ kind }, 0);
}
for (const outcome of ['acknowledged', 'refused', 'failed']) metrics.orderNotifications.inc({ outcome }, 0);

/**
 * Figures read from the database at scrape time (so they hold whichever process did the work, and survive
 * restarts): the order-service notification backlog (the alert for notifications failing for longer than
 * ORDER_NOTIFY_ALERT_AFTER) and payments still open after their expiry. The worker registers them (worker/main.ts);
 * one process is enough, as every process would report the same rows.
 */
export function registerDatabaseGauges(db: Knex, alertAfterMs: number): void {
  new Gauge({
    name: 'payments_oldest_unacknowledged_notification_seconds',
    help: 'Age of the oldest final payment whose order-service notification is not acknowledged',
    registers: [registry],
    async collect() {
      const row = (await db('payments')
        .whereIn('status', DECIDED_STATUSES)
        .whereNull('order_notified_at')
        .min({ oldest: 'finalized_at' })
        .first()) as { oldest: Date | null } | undefined;
      this.set(row?.oldest ? (Date.now() - row.oldest.getTime()) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'payments_unacknowledged_notifications_alerting',
    help: 'Final payments unacknowledged for longer than ORDER_NOTIFY_ALERT_AFTER',
    registers: [registry],
    async collect() {
      const row = (await db('payments')
        .whereIn('status', DECIDED_STATUSES)
        .whereNull('order_notified_at')
        .where('finalized_at', '<', new Date(Date.now() - alertAfterMs))
        .count({ n: '*' })
        .first()) as { n: number } | undefined;
      this.set(Number(row?.n ?? 0));
    },
  });
  // Open (UNPAID or PAYING) after its expiry: the workflow's last query and close at expiry did not settle it
  // (the channel down or answering nonsense, the worker not running, the workflow gone).
  const openPastExpiry = () => db('payments').whereIn('status', OPEN_STATUSES).where('expires_at', '<', new Date());
  new Gauge({
    name: 'payments_open_past_expiry',
    help: 'Payments still open (UNPAID or PAYING) after their expiry',
    registers: [registry],
    async collect() {
      const row = (await openPastExpiry().count({ n: '*' }).first()) as { n: number } | undefined;
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'payments_oldest_open_past_expiry_seconds',
    help: 'How long ago the oldest payment still open (UNPAID or PAYING) expired (0 when none)',
    registers: [registry],
    async collect() {
      const row = (await openPastExpiry().min({ oldest: 'expires_at' }).first()) as { oldest: Date | null } | undefined;
      this.set(row?.oldest ? (Date.now() - row.oldest.getTime()) / 1000 : 0);
    },
  });
}
