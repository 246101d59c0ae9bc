// The payments table and its event log. Status changes are guarded updates: the row moves only from a state the
// state machine allows, checked in the WHERE clause, so concurrent or replayed writers cannot move it backwards.
import type { BuyerHandoff } from '../channels/types';
import type { Db } from './knex';
import { storableJsonText } from './text';
import {
  allowedPredecessors,
  DECIDED_STATUSES,
  KEPT_STATUSES,
  type PaymentStatus,
  type ResolvedBy,
} from '../workflows/states';

export interface PaymentRow {
  id: string;
  order_id: string;
  amount: number;
  currency: string;
  channel: string;
  description: string | null;
  channel_payment_id: string | null;
  pay_url: string | null;
  handoff: BuyerHandoff | null;
  status: PaymentStatus;
  resolved_by: ResolvedBy | null;
  /** Why the payment is in its status, in words (see TransitionFields.statusReason). */
  status_reason: string | null;
  idempotency_key: string;
  request_fingerprint: string;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
  paid_at: Date | null;
  finalized_at: Date | null;
  order_notified_at: Date | null;
}

export interface NewPayment {
  id: string;
  orderId: string;
  amount: number;
  currency: string;
  channel: string;
  description?: string;
  idempotencyKey: string;
  requestFingerprint: string;
  expiresAt: Date;
}

export type EventSource = 'callback' | 'query' | 'operator' | 'system';

export interface NewPaymentEvent {
  paymentId: string | null;
  channel: string;
  source: EventSource;
  type: string;
  channelEventId?: string | null;
  /** Our key for an event a workflow writes through a retried activity: the same key is one row. */
  eventKey?: string;
  payload?: unknown;
  signatureValid?: boolean | null;
  outcome: string;
}

export interface PaymentEventRow {
  id: number;
  payment_id: string | null;
  channel: string;
  source: EventSource;
  type: string;
  channel_event_id: string | null;
  event_key: string | null;
  payload: unknown;
  signature_valid: boolean | null;
  outcome: string;
  received_at: Date;
}

export interface StatusHistoryRow {
  id: number;
  payment_id: string;
  status: PaymentStatus;
  resolved_by: ResolvedBy | null;
  reason: string | null;
  at: Date;
}

export type TransitionResult =
  | { ok: true; changed: boolean; row: PaymentRow }
  | { ok: false; row: PaymentRow | undefined };

export interface TransitionFields {
  resolvedBy?: ResolvedBy;
  channelPaymentId?: string;
  payUrl?: string;
  handoff?: BuyerHandoff;
  paidAt?: Date;
  /** When the final state was decided (workflow time); set for final states. */
  finalizedAt?: Date;
  /** Why, in words for a person; replaces the previous status's reason (none given: none kept). */
  statusReason?: string;
}

export class PaymentsRepository {
  constructor(private readonly db: Db) {}

  /** The same repository inside a transaction. */
  with(db: Db): PaymentsRepository {
    return new PaymentsRepository(db);
  }

  /** Inserts a new payment; when its idempotency key exists already, returns that payment instead. */
  async insert(p: NewPayment): Promise<{ row: PaymentRow; created: boolean }> {
    const inserted = await this.db<PaymentRow>('payments')
      .insert({
        id: p.id,
        order_id: p.orderId,
        amount: p.amount,
        currency: p.currency,
        channel: p.channel,
        description: p.description ?? null,
        idempotency_key: p.idempotencyKey,
        request_fingerprint: p.requestFingerprint,
        expires_at: p.expiresAt,
      })
      .onConflict('idempotency_key')
      .ignore()
      .returning('*');
    if (inserted[0]) return { row: inserted[0], created: true };
    const existing = await this.findByIdempotencyKey(p.idempotencyKey);
    if (!existing) throw new Error('payment insert conflicted but no row holds the key');
    return { row: existing, created: false };
  }

  get(id: string): Promise<PaymentRow | undefined> {
    return this.db<PaymentRow>('payments').where({ id }).first();
  }

  /** A payment that paid this order and whose money the shop keeps (SUCCESS, or accepted by an operator). */
  findPaidForOrder(orderId: string): Promise<PaymentRow | undefined> {
    return this.db<PaymentRow>('payments').where({ order_id: orderId }).whereIn('status', KEPT_STATUSES).first();
  }

  findByIdempotencyKey(key: string): Promise<PaymentRow | undefined> {
    return this.db<PaymentRow>('payments').where({ idempotency_key: key }).first();
  }

  /**
   * Moves a payment to `to` if the state machine allows it from where the row is now. Repeating a transition that
   * already happened is a success without a change (activities may run twice); anything else is refused.
   */
  async transition(id: string, to: PaymentStatus, fields: TransitionFields = {}): Promise<TransitionResult> {
    const updated = await this.db<PaymentRow>('payments')
      .where({ id })
      .whereIn('status', allowedPredecessors(to))
      .update({
        status: to,
        updated_at: this.db.fn.now() as unknown as Date,
        ...(fields.resolvedBy ? { resolved_by: fields.resolvedBy } : {}),
        ...(fields.channelPaymentId ? { channel_payment_id: fields.channelPaymentId } : {}),
        ...(fields.payUrl ? { pay_url: fields.payUrl } : {}),
        ...(fields.handoff ? { handoff: JSON.stringify(fields.handoff) as unknown as BuyerHandoff } : {}),
        ...(fields.paidAt ? { paid_at: fields.paidAt } : {}),
        ...(fields.finalizedAt ? { finalized_at: fields.finalizedAt } : {}),
        status_reason: fields.statusReason ?? null,
      })
      .returning('*');
    if (updated[0]) return { ok: true, changed: true, row: updated[0] };
    const current = await this.get(id);
    if (current && current.status === to) return { ok: true, changed: false, row: current };
    return { ok: false, row: current };
  }

  async markOrderNotified(id: string, at: Date): Promise<void> {
    await this.db<PaymentRow>('payments')
      .where({ id })
      .whereNull('order_notified_at')
      .update({ order_notified_at: at });
  }

  /**
   * Appends to the event log. An event carrying a channel event id is stored once per channel: a duplicate is
   * reported (`inserted: false`) with the id of the first one. The payload is what was received, as far as jsonb can
   * hold it: NULs and lone surrogates (a forged callback may carry anything) are stored as U+FFFD.
   */
  async recordEvent(e: NewPaymentEvent): Promise<{ inserted: boolean; id: number }> {
    const row = {
      payment_id: e.paymentId,
      channel: e.channel,
      source: e.source,
      type: e.type,
      channel_event_id: e.channelEventId ?? null,
      event_key: e.eventKey ?? null,
      payload: e.payload === undefined ? null : storableJsonText(e.payload),
      signature_valid: e.signatureValid ?? null,
      outcome: e.outcome,
    };
    // What makes a copy the same event: our key, or the channel's id for its notification.
    const same = e.eventKey
      ? { event_key: e.eventKey }
      : e.channelEventId
        ? { channel: e.channel, channel_event_id: e.channelEventId }
        : undefined;
    if (!same) {
      const [inserted] = await this.db('payment_events').insert(row).returning('id');
      return { inserted: true, id: (inserted as { id: number }).id };
    }
    const inserted = await this.db('payment_events').insert(row).onConflict(Object.keys(same)).ignore().returning('id');
    if (inserted[0]) return { inserted: true, id: (inserted[0] as { id: number }).id };
    const first = await this.db('payment_events').where(same).first('id');
    return { inserted: false, id: (first as { id: number }).id };
  }

  /** Settles an event still marked `received` (a later duplicate may settle what its first copy could not). */
  async settleEventOutcome(id: number, outcome: string): Promise<void> {
    await this.db('payment_events').where({ id, outcome: 'received' }).update({ outcome });
  }

  /** Oldest first: what an operator looking for stuck payments wants to see. */
  list(filter: {
    status?: PaymentStatus;
    createdBefore?: Date;
    /** Decided (the order must hear it) but the order service has not acknowledged it yet. */
    unacknowledged?: boolean;
    limit: number;
  }): Promise<PaymentRow[]> {
    const q = this.db<PaymentRow>('payments').orderBy('created_at').limit(filter.limit);
    if (filter.status) q.where({ status: filter.status });
    if (filter.createdBefore) q.where('created_at', '<', filter.createdBefore);
    if (filter.unacknowledged) q.whereIn('status', DECIDED_STATUSES).whereNull('order_notified_at');
    return q;
  }

  /** Status changes after `afterId` (the SSE stream's Last-Event-ID), in order. */
  statusHistory(paymentId: string, afterId: number): Promise<StatusHistoryRow[]> {
    return this.db<StatusHistoryRow>('payment_status_history')
      .where({ payment_id: paymentId })
      .where('id', '>', afterId)
      .orderBy('id');
  }

  listEvents(paymentId: string): Promise<PaymentEventRow[]> {
    return this.db<PaymentEventRow>('payment_events').where({ payment_id: paymentId }).orderBy('id');
  }
}
