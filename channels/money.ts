// Money at a channel's edge. Inside, money is integer minor units plus an ISO 4217 currency; channels speak other
// forms: Alipay yuan as decimal strings ("88.00"), WeChat Pay fen (minor units already), Stripe its own idea of which
// currencies have no minor unit. Conversions here are exact string arithmetic: no floating point touches money.
import { minorDigits } from '../workflows/money';

export { minorDigits };

/** Thrown for a decimal amount a channel sent that is not an exact amount of the currency. */
export class MoneyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoneyFormatError';
  }
}

function checkMinor(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new MoneyFormatError(`amount ${amount} is not a non-negative integer number of minor units`);
  }
}

/** 8800 CNY -> "88.00"; 500 JPY -> "500"; 1234 KWD -> "1.234" (exactly `digits` decimals, as Alipay wants them). */
export function toDecimalString(amount: number, currency: string, digits = minorDigits(currency)): string {
  checkMinor(amount);
  if (digits === 0) return String(amount);
  const units = String(amount).padStart(digits + 1, '0');
  return `${units.slice(0, -digits)}.${units.slice(-digits)}`;
}

/**
 * "88.00" or "88" or "88.5" CNY -> 8800 / 8800 / 8850. Refuses what is not an exact amount: a sign, an exponent,
 * spaces, more decimals than the currency has ("88.001" CNY), or more than a safe integer of minor units.
 */
export function fromDecimalString(text: string, currency: string, digits = minorDigits(currency)): number {
  const match = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/.exec(text);
  if (!match) throw new MoneyFormatError(`"${text}" is not a decimal amount`);
  const [, whole, fraction = ''] = match;
  if (fraction.length > digits) {
    throw new MoneyFormatError(`"${text}" has more decimals than ${currency} has (${digits})`);
  }
  const minor = Number(`${whole}${fraction.padEnd(digits, '0')}`);
  if (!Number.isSafeInteger(minor)) throw new MoneyFormatError(`"${text}" ${currency} is too large`);
  return minor;
}

/**
 * Currencies Stripe treats as having no minor unit: amounts are sent in whole units (its "zero-decimal currencies",
 * which differ from ISO 4217 for some, e.g. ISK, HUF, TWD, UGX are special there).
 */
const STRIPE_ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'JPY',
  'KMF',
  'KRW',
  'MGA',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);

/**
 * Our minor units -> the integer Stripe expects in `amount`. For a currency whose ISO exponent Stripe does not follow
 * (e.g. UGX: ISO 0 digits, Stripe zero-decimal; ISK: ISO 0, Stripe two-decimal with a zero fraction) the amount is
 * scaled exactly, and refused if it cannot be.
 */
export function toStripeAmount(amount: number, currency: string): number {
  checkMinor(amount);
  const iso = minorDigits(currency);
  const stripe = STRIPE_ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
  if (stripe >= iso) return amount * 10 ** (stripe - iso);
  const factor = 10 ** (iso - stripe);
  if (amount % factor !== 0) {
    throw new MoneyFormatError(`${amount} minor units of ${currency} cannot be expressed in Stripe's units`);
  }
  return amount / factor;
}

/** The inverse of toStripeAmount: Stripe's integer `amount` -> our minor units. */
export function fromStripeAmount(amount: number, currency: string): number {
  checkMinor(amount);
  const iso = minorDigits(currency);
  const stripe = STRIPE_ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
  if (iso >= stripe) return amount * 10 ** (iso - stripe);
  const factor = 10 ** (stripe - iso);
  if (amount % factor !== 0) {
    throw new MoneyFormatError(`Stripe amount ${amount} ${currency} is not a whole number of ${currency} minor units`);
  }
  return amount / factor;
}
