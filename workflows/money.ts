// Money as the service keeps it: integer minor units of an ISO 4217 currency. The exponent (how many minor units make
// a major one) is ISO 4217's, not the display digits of Intl/CLDR, which differ for 17 currencies (IDR, HUF, COP,
// IQD, ...: Intl shows them without decimals, ISO counts 2 or 3). Pure: workflows, the API and the channels use it.

/** ISO 4217 exponents other than 2 (the rest of the currencies this runtime knows have 2). */
const EXPONENTS: Record<string, number> = {
  ...Object.fromEntries(
    'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' ').map((c) => [c, 0]),
  ),
  ...Object.fromEntries('BHD IQD JOD KWD LYD OMR TND'.split(' ').map((c) => [c, 3])),
  CLF: 4,
  UYW: 4,
};

/** Units of account with no minor unit in ISO 4217 (special drawing rights and the like): not payable here. */
const NO_MINOR_UNIT = new Set([
  'XDR',
  'XSU',
  'XUA',
  'XAU',
  'XAG',
  'XPT',
  'XPD',
  'XBA',
  'XBB',
  'XBC',
  'XBD',
  'XTS',
  'XXX',
]);

/** The currencies a payment may be in: those this runtime knows (Intl) that have a minor unit. Sorted. */
export const PAYABLE_CURRENCIES = Intl.supportedValuesOf('currency').filter((c) => !NO_MINOR_UNIT.has(c));

/** Digits after the decimal point of an ISO 4217 currency: JPY 0, CNY 2, KWD 3, CLF 4. */
export function minorDigits(currency: string): number {
  const code = currency.toUpperCase();
  if (NO_MINOR_UNIT.has(code)) throw new RangeError(`${code} has no minor unit: amounts in it cannot be kept here`);
  return EXPONENTS[code] ?? 2;
}

/** 2599 CNY -> "25.99 CNY"; 500 JPY -> "500 JPY". */
export function formatMoney(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const units = String(Math.abs(amount)).padStart(digits + 1, '0');
  const major = digits === 0 ? units : `${units.slice(0, -digits)}.${units.slice(-digits)}`;
  return `${sign}${major} ${currency}`;
}
