// The chaos run's view of each channel's double: how a buyer acts on what they were handed, and what the channel
// itself records (the first of the audit's three sources of truth), in the wallet's status words and keyed by our
// payment id.
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
  const m = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/i.exec(reference);
  return m ? m.slice(1).join('-').toLowerCase() : reference;
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
