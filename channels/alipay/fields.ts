// Alipay's words and formats, shared by the adapter and its bill reader: our payment id as out_trade_no, the
// trade_status words as channel states, and Beijing wall-clock times ("yyyy-MM-dd HH:mm:ss", UTC+8, no zone given),
// which is how every Alipay timestamp (gmt_payment, send_pay_date, the bill's columns) is written.
import type { ChannelState } from '../../workflows/states';
import { compactPaymentId, paymentIdFromCompact } from '../references';

/**
 * Alipay's trade_status words as the service's channel states (DESIGN.md). TRADE_FINISHED is a paid trade whose
 * refund window has ended. TRADE_CLOSED is either "closed unpaid" or "paid, then refunded in full": the adapter tells
 * them apart by whether money moved (send_pay_date on a query, refund fields on a notification).
 */
export const TRADE_STATUSES: Record<string, ChannelState> = {
  WAIT_BUYER_PAY: 'PENDING',
  TRADE_SUCCESS: 'SUCCESS',
  TRADE_FINISHED: 'SUCCESS',
  TRADE_CLOSED: 'CLOSED',
};

/** Our payment id as Alipay's out_trade_no (at most 64 letters, digits and "_"): its 32 hex digits, and back. */
export const toOutTradeNo = compactPaymentId;
export const fromOutTradeNo = paymentIdFromCompact;

const BEIJING_OFFSET_MS = 8 * 3600_000;

/** A Beijing wall-clock time ("2026-11-27 20:00:01") as an ISO instant, or undefined if it is not one. */
export function fromBeijingTime(text: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** An instant as Beijing wall-clock time, "yyyy-MM-dd HH:mm:ss". */
export function toBeijingTime(at: Date | number): string {
  const shifted = new Date((typeof at === 'number' ? at : at.getTime()) + BEIJING_OFFSET_MS).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 19)}`;
}

/** The Beijing calendar day ("yyyy-MM-dd") an instant falls on: what Alipay's daily bills are cut by. */
export function beijingDate(at: Date | number): string {
  return toBeijingTime(at).slice(0, 10);
}

/** The Beijing days that [from, to) touches, in order: the bills that cover it. */
export function beijingDaysBetween(from: Date, to: Date): string[] {
  const days: string[] = [];
  if (to.getTime() <= from.getTime()) return days;
  const last = beijingDate(to.getTime() - 1);
  for (let at = from.getTime(); ; at += 24 * 3600_000) {
    const day = beijingDate(at);
    days.push(day);
    if (day >= last) return days;
  }
}
