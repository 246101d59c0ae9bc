// Our payment id (a UUID) in the channels' merchant references: its 32 hex digits without the dashes fit every
// channel's limits (WeChat Pay's out_trade_no: 6 to 32 of [0-9A-Za-z_|*-]; Alipay's: up to 64 letters, digits, "_"),
// and come back with them.

export function compactPaymentId(paymentId: string): string {
  const hex = paymentId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`payment id ${paymentId} is not a UUID`);
  return hex;
}

export function paymentIdFromCompact(reference: string): string | undefined {
  const m = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/i.exec(reference);
  return m ? m.slice(1).join('-').toLowerCase() : undefined;
}
