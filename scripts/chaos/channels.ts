// The chaos run's view of each channel's double: how a buyer acts on what they were handed, and what the channel
// itself records (the first of the audit's three sources of truth), in the wallet's status words and keyed by our
// payment id.
import { paymentIdFromCompact } from '../../channels/references';
import type { ChannelRecord } from './audit';

export interface Delivery {
  httpStatus: number;
  accepted?: boolean;
}

export type ChaosChannelRecord = ChannelRecord & { deliveries?: Delivery[] };

export interface ChaosChannel {
  name: string;
  /** The buyer pays or declines what they were handed; answers what the channel said, for the report. */
  act(payment: Record<string, unknown>, decision: 'pay' | 'decline'): Promise<string>;
  records(): Promise<ChaosChannelRecord[]>;
}

/**
 * Our payment id from the merchant reference a channel keeps: WeChat Pay's out_trade_no (and Alipay's) is the UUID
 * without its dashes (32 characters fit every channel's limit); SandboxPay keeps the UUID itself.
 */
export function paymentIdOf(reference: string): string {
  return paymentIdFromCompact(reference) ?? reference;
}

/** The wallet page's id in a hand-off (every emulator of ours serves its wallet page at /pay/{id}). */
export function walletIdOf(payment: Record<string, unknown>): string | undefined {
  const handoff = (payment.handoff ?? {}) as Record<string, unknown>;
  const url = [handoff.url, handoff.pageUrl, handoff.codeUrl, payment.payUrl].find((u) => typeof u === 'string');
  const id = /\/pay\/([^/?#]+)/.exec(String(url ?? ''))?.[1];
  return id ? decodeURIComponent(id) : undefined;
}

/** A channel whose double is one of our emulators (SandboxPay, WeChat Pay, Alipay): the shared wallet's routes. */
export function walletChannel(name: string, baseUrl: string): ChaosChannel {
  return {
    name,
    async act(payment, decision) {
      const id = walletIdOf(payment);
      if (!id) return `${decision}: no wallet page`;
      const res = await fetch(`${baseUrl}/wallet/${encodeURIComponent(id)}/${decision}`, {
        method: 'POST',
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json().catch(() => ({}))) as { status?: string };
      return `${decision}: ${res.status === 200 ? String(body.status) : `refused ${res.status}`}`;
    },
    async records() {
      const res = await fetch(`${baseUrl}/admin/payments`, { signal: AbortSignal.timeout(30_000) });
      const all = (await res.json()) as ChaosChannelRecord[];
      return all.map((r) => ({ ...r, merchantOrderId: paymentIdOf(r.merchantOrderId) }));
    },
  };
}

/**
 * Stripe, on localstripe: the buyer uses the demo checkout page's actions (a test card that pays, or one that is
 * declined), and the channel's record is localstripe's PaymentIntents (ours carry metadata.payment_id), in the wallet's
 * words: succeeded -> SUCCESS (REFUND once fully refunded), canceled -> CLOSED, anything else still NOTPAY.
 */
export function stripeChannel(localstripeUrl: string, secretKey: string): ChaosChannel {
  const auth = { authorization: `Bearer ${secretKey}` };
  const get = async (path: string) => {
    const res = await fetch(`${localstripeUrl}${path}`, { headers: auth, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`localstripe GET ${path}: HTTP ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  return {
    name: 'stripe',
    async act(payment, decision) {
      const handoff = (payment.handoff ?? {}) as { pageUrl?: string; clientSecret?: string };
      if (!handoff.pageUrl) return `${decision}: no checkout page`;
      const page = new URL(handoff.pageUrl);
      const res = await fetch(`${page.origin}${page.pathname}/${decision}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_secret: handoff.clientSecret ?? page.searchParams.get('client_secret') }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json().catch(() => ({}))) as { status?: string };
      return `${decision}: ${res.status === 200 ? String(body.status) : `refused ${res.status}`}`;
    },
    async records() {
      const intents: Record<string, unknown>[] = [];
      for (let after: string | undefined; ; ) {
        const page = await get(`/v1/payment_intents?limit=100${after ? `&starting_after=${after}` : ''}`);
        const data = (page.data ?? []) as Record<string, unknown>[];
        intents.push(...data);
        if (!page.has_more || data.length === 0) break;
        after = String(data[data.length - 1]!.id);
      }
      const records: ChaosChannelRecord[] = [];
      for (const intent of intents) {
        const paymentId = (intent.metadata as Record<string, string> | undefined)?.payment_id;
        if (!paymentId) continue;
        let status = intent.status === 'succeeded' ? 'SUCCESS' : intent.status === 'canceled' ? 'CLOSED' : 'NOTPAY';
        let paidAt: string | undefined;
        let refunds: { status: string; amount: number }[] = [];
        const chargeId =
          typeof intent.latest_charge === 'string'
            ? intent.latest_charge
            : (intent.latest_charge as { id?: string } | null)?.id;
        if (status === 'SUCCESS' && chargeId) {
          const charge = await get(`/v1/charges/${chargeId}`);
          paidAt = new Date(Number(charge.created) * 1000).toISOString();
          refunds = (
            ((charge.refunds as { data?: Record<string, unknown>[] } | undefined)?.data ?? []) as {
              status: string;
              amount: number;
            }[]
          ).map((r) => ({ status: r.status === 'succeeded' ? 'SUCCESS' : r.status, amount: r.amount }));
          if (charge.refunded === true) status = 'REFUND';
        }
        records.push({
          channelPaymentId: String(intent.id),
          merchantOrderId: paymentId,
          status,
          amount: Number(intent.amount),
          ...(paidAt ? { paidAt } : {}),
          refunds,
        });
      }
      return records;
    },
  };
}

/**
 * The buyer of any of our doubles, from what they were handed alone: Stripe's test checkout page for a client secret,
 * else the wallet (every emulator serves it where its page is). For tools that run beside `npm start` (the load
 * generator), which know the API but not the doubles' keys.
 */
export async function actAsBuyer(payment: Record<string, unknown>, decision: 'pay' | 'decline'): Promise<string> {
  const handoff = (payment.handoff ?? {}) as { kind?: string; url?: string; pageUrl?: string; codeUrl?: string };
  if (handoff.kind === 'client_secret') return stripeChannel('', '').act(payment, decision);
  const page = handoff.url ?? handoff.pageUrl ?? handoff.codeUrl;
  if (!page) return `${decision}: nothing to pay with`;
  return walletChannel('wallet', new URL(page).origin).act(payment, decision);
}
