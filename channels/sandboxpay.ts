// The SandboxPay adapter over HTTP. Its status words are WeChat Pay's: NOTPAY/USERPAYING (pending), SUCCESS,
// CLOSED, PAYERROR, REFUND (paid, then refunded).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { hasControlCharacters, isWellFormed } from '../db/text';
import type { Logger } from '../observability/logger';
import type { ChannelState } from '../workflows/states';
import {
  type CallbackVerification,
  ChannelUnavailableError,
  type ChannelPaymentRef,
  type ChannelPaymentView,
  type CreateChannelPaymentOutcome,
  type CreateChannelPaymentRequest,
  type PaymentChannel,
  type RefundOutcome,
  type RefundRef,
  type RefundRequest,
  type RefundState,
  type StatementEntry,
} from './types';
import { stateOfWord } from './status';

export interface SandboxPayConfig {
  url: string;
  merchantId: string;
  secret: string;
  /** Per-request timeout; a hung channel becomes a retryable failure. */
  timeoutMs?: number;
  /** Accepted clock skew for callback timestamps. */
  toleranceMs?: number;
}

const STATUS_MAP: Record<string, ChannelState> = {
  NOTPAY: 'PENDING',
  USERPAYING: 'PENDING',
  SUCCESS: 'SUCCESS',
  REFUND: 'SUCCESS',
  CLOSED: 'CLOSED',
  REVOKED: 'CLOSED',
  PAYERROR: 'FAILED',
};

const paymentSchema = z.object({
  channelPaymentId: z.string(),
  merchantOrderId: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.string(),
  paidAt: z.string().optional(),
  payUrl: z.string().optional(),
  /** Why it failed (a decline's reason) or closed. */
  reason: z.string().max(256).optional(),
});

// Every string of a callback ends up in our tables or in a workflow: one with a NUL (which PostgreSQL cannot store),
// another control character or a lone surrogate makes the callback unreadable (400), however well it is signed.
const field = z
  .string()
  .max(1024)
  .refine((s) => !hasControlCharacters(s) && isWellFormed(s), 'control character or lone surrogate');

const callbackSchema = z.object({
  eventId: field.min(1),
  eventType: field.min(1),
  merchantId: field,
  merchantOrderId: field.min(1),
  channelPaymentId: field.min(1),
  status: field,
  amount: z.number().int(),
  currency: field,
  paidAt: field.optional(),
  reason: field.optional(),
});

export class SandboxPayChannel implements PaymentChannel {
  readonly name = 'sandboxpay';

  constructor(
    private readonly config: SandboxPayConfig,
    private readonly logger: Logger,
  ) {}

  private mapStatus(status: string, channelPaymentId: string): ChannelState {
    return stateOfWord(STATUS_MAP, status, 'PENDING', {
      logger: this.logger,
      channel: this.name,
      what: 'channel status',
      context: { channelPaymentId },
    });
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.config.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.config.secret}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.config.timeoutMs ?? 5000),
      });
    } catch (err) {
      throw new ChannelUnavailableError(`${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const json: unknown = await res.json().catch(() => undefined);
    if (res.status >= 500 || res.status === 429 || res.status === 401) {
      throw new ChannelUnavailableError(`${method} ${path}: HTTP ${res.status}`);
    }
    return { status: res.status, json };
  }

  private toView(json: unknown): ChannelPaymentView {
    const p = paymentSchema.parse(json);
    return {
      state: this.mapStatus(p.status, p.channelPaymentId),
      channelStatus: p.status,
      channelPaymentId: p.channelPaymentId,
      amount: p.amount,
      currency: p.currency,
      ...(p.paidAt ? { paidAt: p.paidAt } : {}),
      ...(p.reason ? { reason: p.reason } : {}),
    };
  }

  async create(request: CreateChannelPaymentRequest): Promise<CreateChannelPaymentOutcome> {
    const { status, json } = await this.call('POST', '/v1/payments', {
      merchantOrderId: request.paymentId,
      amount: request.amount,
      currency: request.currency,
      notifyUrl: request.notifyUrl,
      ...(request.description ? { description: request.description } : {}),
    });
    if (status === 200 || status === 201) {
      const p = paymentSchema.parse(json);
      return {
        outcome: 'created',
        channelPaymentId: p.channelPaymentId,
        handoff: { kind: 'redirect', url: p.payUrl ?? '' },
      };
    }
    return {
      outcome: 'rejected',
      reason: `HTTP ${status} ${String((json as { error?: string })?.error ?? '')}`.trim(),
    };
  }

  async query(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    const path = ref.channelPaymentId
      ? `/v1/payments/${encodeURIComponent(ref.channelPaymentId)}`
      : `/v1/payments?merchantOrderId=${encodeURIComponent(ref.paymentId)}`;
    const { status, json } = await this.call('GET', path);
    if (status === 404) return { state: 'NOT_FOUND', channelStatus: 'NOT_FOUND' };
    if (status !== 200) throw new ChannelUnavailableError(`query answered HTTP ${status}`);
    return this.toView(json);
  }

  async close(ref: ChannelPaymentRef): Promise<ChannelPaymentView> {
    let channelPaymentId = ref.channelPaymentId;
    if (!channelPaymentId) {
      const found = await this.query(ref);
      if (found.state === 'NOT_FOUND' || !found.channelPaymentId) return found; // never created: nothing to close
      channelPaymentId = found.channelPaymentId;
    }
    const { status, json } = await this.call('POST', `/v1/payments/${encodeURIComponent(channelPaymentId)}/close`);
    if (status === 404) return { state: 'NOT_FOUND', channelStatus: 'NOT_FOUND' };
    if (status !== 200) throw new ChannelUnavailableError(`close answered HTTP ${status}`);
    return this.toView(json);
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const { status, json } = await this.call(
      'POST',
      `/v1/payments/${encodeURIComponent(request.channelPaymentId)}/refund`,
      {
        refundKey: request.refundKey,
        amount: request.amount,
      },
    );
    if (status === 200 || status === 201) {
      const r = z.object({ refundId: z.string(), status: z.enum(['PROCESSING', 'SUCCESS']) }).parse(json);
      return { outcome: 'accepted', refundId: r.refundId, state: r.status };
    }
    return { outcome: 'rejected', reason: String((json as { error?: string })?.error ?? `HTTP ${status}`) };
  }

  async queryRefund(ref: RefundRef): Promise<RefundState> {
    const { status, json } = await this.call('GET', `/v1/refunds/${encodeURIComponent(ref.refundId)}`);
    if (status === 404) return 'NOT_FOUND';
    if (status !== 200) throw new ChannelUnavailableError(`refund query answered HTTP ${status}`);
    const r = z.object({ status: z.enum(['PROCESSING', 'SUCCESS', 'FAILED']) }).parse(json);
    return r.status;
  }

  async statement(range: { from: Date; to: Date }): Promise<StatementEntry[]> {
    const query = `from=${encodeURIComponent(range.from.toISOString())}&to=${encodeURIComponent(range.to.toISOString())}`;
    const { status, json } = await this.call('GET', `/v1/statement?${query}`);
    if (status !== 200) throw new ChannelUnavailableError(`statement answered HTTP ${status}`);
    const entries = z
      .object({
        entries: z.array(
          z.object({
            channelPaymentId: z.string(),
            merchantOrderId: z.string(),
            amount: z.number().int(),
            currency: z.string(),
            paidAt: z.string(),
            refundedAmount: z.number().int(),
          }),
        ),
      })
      .parse(json).entries;
    return entries.map(({ merchantOrderId, ...e }) => ({ ...e, paymentId: merchantOrderId }));
  }

  async verifyCallback(
    rawBody: Buffer,
    header: (name: string) => string | undefined,
    nowMs: number,
  ): Promise<CallbackVerification> {
    const timestamp = header('x-sandboxpay-timestamp');
    const signature = header('x-sandboxpay-signature');
    if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing_signature' };
    const skewMs = nowMs - Number(timestamp) * 1000;
    const toleranceMs = this.config.toleranceMs ?? 5 * 60_000;
    if (Math.abs(skewMs) > toleranceMs) {
      const off = `${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? 'behind' : 'ahead of'} our clock`;
      return { ok: false, reason: 'stale_timestamp', detail: `${off}; at most ${toleranceMs / 1000} s allowed` };
    }
    const expected = Buffer.from(
      `v1=${createHmac('sha256', this.config.secret).update(timestamp).update('.').update(rawBody).digest('hex')}`,
    );
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, reason: 'bad_signature' };

    let payload: unknown;
    try {
      payload = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed_body' };
    }
    const parsed = callbackSchema.safeParse(payload);
    if (!parsed.success) return { ok: false, reason: 'malformed_body' };
    const c = parsed.data;
    if (c.merchantId !== this.config.merchantId) return { ok: false, reason: 'wrong_merchant' };
    return {
      ok: true,
      payload,
      callback: {
        eventId: c.eventId,
        eventType: c.eventType,
        channelPaymentId: c.channelPaymentId,
        paymentId: c.merchantOrderId,
        merchantId: c.merchantId,
        state: this.mapStatus(c.status, c.channelPaymentId),
        channelStatus: c.status,
        amount: c.amount,
        currency: c.currency,
        ...(c.paidAt ? { paidAt: c.paidAt } : {}),
        ...(c.reason ? { reason: c.reason } : {}),
      },
    };
  }
}
