// One payment's mutable state inside its workflow, and its views: the `status` query's answer, the search
// attributes operators filter on, and the details the Web UI shows. The handlers and the phases change it only
// through the methods here, so what can change, and what it looks like from outside, reads in one place.
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import {
  type Anomaly,
  type ChannelCallback,
  type PaymentInput,
  type PaymentResult,
  type PaymentStatusView,
  type PayUrlResult,
  searchAttributes,
} from '../definitions';
import { formatMoney } from '../money';
import type { BuyerHandoff } from '../../channels/types';
import type { OrderNotice } from '../order-notice';
import type { PaymentStatus, ResolvedBy } from '../states';
import { iso } from '../time';

export class PaymentState {
  status: PaymentStatus = 'UNPAID';
  resolvedBy: ResolvedBy | undefined;
  channelPaymentId: string | undefined;
  payUrl: string | undefined;
  handoff: BuyerHandoff | undefined;
  /** The channel answered creation (or creation gave up): the API's pay-URL update may answer. */
  creationSettled = false;
  /** The channel said it created the payment: a NOT_FOUND from it later is an anomaly, not "never created". */
  createdAtChannel = false;
  /** What the order service is told (set once the payment is decided): an operator's renotify sends it again. */
  orderNotice: OrderNotice | undefined;
  /** An operator asked to tell the order service again now, while it is still being retried. */
  renotifyRequested = false;
  /** Scheduled channel queries done (operator requeries and expiry's final query not counted). */
  checksDone = 0;
  queryFailures = 0;
  nextCheckAtMs: number | undefined;
  waitingFor = 'the channel to create the payment';
  orderNotified = false;
  readonly anomalies: Anomaly[] = [];

  /** Callbacks received and not yet handled, in arrival order (deduplicated by the channel's event id). */
  private readonly inbox: ChannelCallback[] = [];
  private readonly seenEventIds = new Set<string>();
  private duplicateCallbacks = 0;
  private ignoredCallbacks = 0;
  private cancelRequested = false;
  private requeryRequested = false;
  /** Search attribute values already on the server (the API sets status, order and channel at start). */
  private readonly published = new Map<string, string>();

  constructor(readonly input: PaymentInput) {
    for (const pair of workflowInfo().typedSearchAttributes.getAll()) {
      this.published.set(pair.key.name, pair.value instanceof Date ? pair.value.toISOString() : String(pair.value));
    }
  }

  get paymentId(): string {
    return this.input.paymentId;
  }

  // ---- what the handlers do ---------------------------------------------------------------------------------

  receiveCallback(callback: ChannelCallback): void {
    if (this.seenEventIds.has(callback.eventId)) {
      this.duplicateCallbacks++;
      return;
    }
    this.seenEventIds.add(callback.eventId);
    this.inbox.push(callback);
  }

  requestCancel(): void {
    this.cancelRequested = true;
  }

  requestRequery(): void {
    this.requeryRequested = true;
  }

  // ---- what the phases take from it -------------------------------------------------------------------------

  /** Something for the wait loop to act on before its timer fires. */
  hasNews(options: { cancel: boolean }): boolean {
    return this.inbox.length > 0 || this.requeryRequested || (options.cancel && this.cancelRequested);
  }

  nextCallback(): ChannelCallback | undefined {
    return this.inbox.shift();
  }

  takeCancel(): boolean {
    const asked = this.cancelRequested;
    this.cancelRequested = false;
    return asked;
  }

  /** An operator's requery waiting to be acted on. */
  get requeryAsked(): boolean {
    return this.requeryRequested;
  }

  takeRequery(): boolean {
    const asked = this.requeryRequested;
    this.requeryRequested = false;
    return asked;
  }

  /** A callback that changes nothing (a stale report after the decision). */
  ignoreCallback(): void {
    this.ignoredCallbacks++;
  }

  /** How activities name this payment at the channel (the channel's id once known). */
  channelRef() {
    return { paymentId: this.paymentId, channel: this.input.channel, channelPaymentId: this.channelPaymentId };
  }

  /** Does a channel answer describe this payment (amount, currency)? A success that does not is not trusted. */
  agrees(view: { amount?: number; currency?: string }): boolean {
    return view.amount === this.input.amount && view.currency === this.input.currency;
  }

  /** Does a callback describe this payment: its channel id, amount and currency? */
  trusts(callback: ChannelCallback): boolean {
    return callback.channelPaymentId === this.channelPaymentId && this.agrees(callback);
  }

  // ---- views ------------------------------------------------------------------------------------------------

  view(): PaymentStatusView {
    return {
      paymentId: this.paymentId,
      status: this.status,
      ...(this.channelPaymentId ? { channelPaymentId: this.channelPaymentId } : {}),
      ...(this.payUrl ? { payUrl: this.payUrl } : {}),
      ...(this.handoff ? { handoff: this.handoff } : {}),
      expiresAt: this.input.expiresAt,
      checksDone: this.checksDone,
      queryFailures: this.queryFailures,
      ...(this.nextCheckAtMs !== undefined ? { nextCheckAt: iso(this.nextCheckAtMs) } : {}),
      ...(this.resolvedBy ? { resolvedBy: this.resolvedBy } : {}),
      waitingFor: this.waitingFor,
      orderNotified: this.orderNotified,
      duplicateCallbacks: this.duplicateCallbacks,
      ignoredCallbacks: this.ignoredCallbacks,
      anomalies: [...this.anomalies],
    };
  }

  payUrlResult(): PayUrlResult {
    return {
      paymentId: this.paymentId,
      status: this.status,
      ...(this.payUrl ? { payUrl: this.payUrl } : {}),
      ...(this.handoff ? { handoff: this.handoff } : {}),
    };
  }

  /** Says what the workflow does now, and publishes it. */
  doing(what: string): void {
    this.waitingFor = what;
    this.show();
  }

  /** Says what the workflow waits for, and until when at most (the next channel query), and publishes it. */
  waitUntil(what: string, atMs: number): void {
    this.nextCheckAtMs = atMs;
    this.doing(what);
  }

  /**
   * Publishes the state: search attributes (only those that changed, since each upsert is a history event) and the
   * details the Web UI shows on the workflow page.
   */
  show(): void {
    const wanted: SearchAttributeUpdatePair[] = [
      { key: searchAttributes.paymentStatus, value: this.status },
      { key: searchAttributes.orderId, value: this.input.orderId },
      { key: searchAttributes.paymentChannel, value: this.input.channel },
      { key: searchAttributes.resolvedBy, value: this.resolvedBy ?? null },
      {
        key: searchAttributes.nextCheckAt,
        value: this.nextCheckAtMs !== undefined ? new Date(this.nextCheckAtMs) : null,
      },
    ];
    const changed = wanted.filter(({ key, value }) => {
      const text = value instanceof Date ? value.toISOString() : String(value);
      if (this.published.get(key.name) === text || (value === null && !this.published.has(key.name))) return false;
      if (value === null) this.published.delete(key.name);
      else this.published.set(key.name, text);
      return true;
    });
    if (changed.length > 0) upsertSearchAttributes(changed);
    const { amount, currency, orderId, channel, expiresAt } = this.input;
    const lines = [
      `**${this.status}** ${formatMoney(amount, currency)} for order ${orderId} via ${channel}`,
      `Waiting for: ${this.waitingFor}`,
      this.nextCheckAtMs !== undefined ? `Next channel query: ${iso(this.nextCheckAtMs)}` : '',
      `Checks done: ${this.checksDone}${this.queryFailures ? ` (${this.queryFailures} failed)` : ''}; expires ${expiresAt}`,
      this.anomalies.length ? `Anomalies: ${this.anomalies.map((a) => a.kind).join(', ')}` : '',
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  }

  /** The end: anything still in the inbox is a duplicate or a stale report (e.g. FAILED after SUCCESS). */
  finish(): PaymentResult {
    this.ignoredCallbacks += this.inbox.splice(0).length;
    this.nextCheckAtMs = undefined;
    this.doing('nothing (done)');
    return {
      paymentId: this.paymentId,
      status: this.status,
      ...(this.resolvedBy ? { resolvedBy: this.resolvedBy } : {}),
      anomalies: this.anomalies,
    };
  }
}
