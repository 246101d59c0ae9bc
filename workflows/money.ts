// Money for people: integer minor units shown in major units, exactly (string arithmetic, no floating point).
// Pure: the workflows use it for what the Web UI shows, the API for workflow summaries.

/** Digits after the decimal point of an ISO 4217 currency (JPY 0, CNY 2, KWD 3), from Intl's currency data. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** 2599 CNY -> "25.99 CNY"; 500 JPY -> "500 JPY". */
export function formatMoney(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const units = String(Math.abs(amount)).padStart(digits + 1, '0');
  const major = digits === 0 ? units : `${units.slice(0, -digits)}.${units.slice(-digits)}`;
  return `${sign}${major} ${currency}`;
}
