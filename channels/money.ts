// Money at a channel's edge. Inside, money is integer minor units plus an ISO 4217 currency; channels speak other
// forms: Alipay yuan as decimal strings ("88.00"), WeChat Pay fen (minor units already), Stripe its own idea of which
// currencies have no minor unit. Conversions here are exact string arithmetic: no floating point touches money.
import { minorDigits } from '../workflows/money';

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
 * Currencies Stripe counts in three decimals, as ISO 4217 does, but whose last digit it requires to be 0 (amounts
 * are charged to the hundredth): 5.120 KWD is 5120, 5.125 KWD cannot be charged.
 */
const STRIPE_THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

/** Digits Stripe counts for a currency: none for its zero-decimal currencies, three for five, two for the rest. */
const stripeDigits = (currency: string) => {
  const code = currency.toUpperCase();
  return STRIPE_ZERO_DECIMAL.has(code) ? 0 : STRIPE_THREE_DECIMAL.has(code) ? 3 : 2;
};

/** `amount` counted in 10^-from units, recounted in 10^-to units: exactly, or refused. */
function rescale(amount: number, from: number, to: number, what: string): number {
  checkMinor(amount);
  const scaled = to >= from ? amount * 10 ** (to - from) : amount / 10 ** (from - to);
  if (!Number.isSafeInteger(scaled)) throw new MoneyFormatError(`${what} cannot be expressed exactly`);
  return scaled;
}

/**
 * Our minor units -> the integer Stripe expects in `amount`. Where Stripe's digits differ from ISO 4217's (ISK: ISO 0,
 * Stripe 2; MGA: ISO 2, Stripe 0) the amount is rescaled exactly, and refused if it cannot be.
 */
export function toStripeAmount(amount: number, currency: string): number {
  const stripeAmount = rescale(
    amount,
    minorDigits(currency),
    stripeDigits(currency),
    `${amount} minor units of ${currency} in Stripe's units`,
  );
  if (STRIPE_THREE_DECIMAL.has(currency.toUpperCase()) && stripeAmount % 10 !== 0) {
    throw new MoneyFormatError(
      `${amount} minor units of ${currency}: Stripe charges ${currency} to the hundredth only`,
    );
  }
  return stripeAmount;
}

/** The inverse of toStripeAmount: Stripe's integer `amount` -> our minor units. */
export function fromStripeAmount(amount: number, currency: string): number {
  return rescale(
    amount,
    stripeDigits(currency),
    minorDigits(currency),
    `Stripe amount ${amount} ${currency} in minor units`,
  );
}
