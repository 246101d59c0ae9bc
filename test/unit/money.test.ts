import {
  fromDecimalString,
  fromStripeAmount,
  MoneyFormatError,
  toDecimalString,
  toStripeAmount,
} from '../../channels/money';
import { formatMoney, minorDigits, PAYABLE_CURRENCIES } from '../../workflows/money';
import { moneyBackAction, refundInput } from '../../workflows/money-back';

describe('money for people', () => {
  it('shows minor units in major units by the currency exponent, exactly', () => {
    expect(formatMoney(2599, 'CNY')).toBe('25.99 CNY');
    expect(formatMoney(5, 'USD')).toBe('0.05 USD');
    expect(formatMoney(500, 'JPY')).toBe('500 JPY');
    expect(formatMoney(1234, 'KWD')).toBe('1.234 KWD');
    expect(formatMoney(9007199254740991, 'CNY')).toBe('90071992547409.91 CNY'); // no float rounding at 2^53 - 1
    expect(minorDigits('JPY')).toBe(0);
  });

  it("counts minor units by ISO 4217's exponent, not by how Intl displays a currency", () => {
    // Intl shows these without decimals; ISO 4217 (and so the amounts shops send) has 2 or 3.
    expect(formatMoney(2599, 'IDR')).toBe('25.99 IDR');
    expect(formatMoney(2599, 'HUF')).toBe('25.99 HUF');
    expect(formatMoney(2599, 'IQD')).toBe('2.599 IQD');
    expect(formatMoney(25999, 'CLF')).toBe('2.5999 CLF');
    expect(() => minorDigits('XDR')).toThrow(/no minor unit/);
    expect(PAYABLE_CURRENCIES).not.toContain('XDR');
    expect(PAYABLE_CURRENCIES).toEqual(expect.arrayContaining(['CNY', 'USD', 'JPY', 'KWD', 'EUR']));
    for (const c of PAYABLE_CURRENCIES) expect([0, 2, 3, 4]).toContain(minorDigits(c));
  });
});

describe("money at a channel's edge, exactly", () => {
  it('writes and reads decimal amounts (Alipay "88.00") without floating point, for every payable currency', () => {
    expect(toDecimalString(8800, 'CNY')).toBe('88.00');
    expect(toDecimalString(5, 'CNY')).toBe('0.05');
    expect(toDecimalString(500, 'JPY')).toBe('500');
    expect(fromDecimalString('88.00', 'CNY')).toBe(8800);
    expect(fromDecimalString('88', 'CNY')).toBe(8800);
    expect(fromDecimalString('0.1', 'CNY')).toBe(10); // 0.1 is not exact in binary floating point; here it is
    expect(fromDecimalString('1.005', 'KWD')).toBe(1005);
    for (const currency of PAYABLE_CURRENCIES) {
      for (const amount of [0, 1, 7, 10, 99, 100, 2599, 123456789, Number.MAX_SAFE_INTEGER]) {
        expect(fromDecimalString(toDecimalString(amount, currency), currency)).toBe(amount);
      }
    }
  });

  it('refuses what is not an exact amount of the currency', () => {
    for (const bad of ['88.001', '-1', '+1', '1e3', ' 88', '88.', '.5', '0x10', '', '88,00', '01']) {
      expect(() => fromDecimalString(bad, 'CNY')).toThrow(MoneyFormatError);
    }
    expect(() => fromDecimalString('1.5', 'JPY')).toThrow(/more decimals/);
    expect(() => fromDecimalString('99999999999999999', 'CNY')).toThrow(/too large/);
    expect(() => toDecimalString(1.5, 'CNY')).toThrow(MoneyFormatError);
    expect(() => toDecimalString(-1, 'CNY')).toThrow(MoneyFormatError);
  });

  it("converts to and from Stripe's units, including the currencies where Stripe and ISO disagree", () => {
    expect(toStripeAmount(2599, 'USD')).toBe(2599);
    expect(toStripeAmount(500, 'JPY')).toBe(500);
    expect(toStripeAmount(5, 'ISK')).toBe(500); // ISO 0 digits, Stripe counts ISK in hundredths
    expect(fromStripeAmount(500, 'ISK')).toBe(5);
    expect(() => fromStripeAmount(550, 'ISK')).toThrow(MoneyFormatError);
    // Stripe counts KWD (and BHD, JOD, OMR, TND) in thousandths, as ISO does, but charges to the hundredth only:
    // 5.120 KWD is 5120 (not 512, a tenth of the price), 5.125 KWD cannot be charged.
    expect(toStripeAmount(5120, 'KWD')).toBe(5120);
    expect(fromStripeAmount(5120, 'KWD')).toBe(5120);
    expect(() => toStripeAmount(5125, 'KWD')).toThrow(MoneyFormatError);
    for (const currency of PAYABLE_CURRENCIES) {
      for (const amount of [0, 1000, 2599000]) {
        expect(fromStripeAmount(toStripeAmount(amount, currency), currency)).toBe(amount);
      }
    }
  });
});

describe('money that must go back: refund or review (one decision for the workflow, the API and the reconciler)', () => {
  it('follows the policy for a late success and for a refusal by the order service', () => {
    for (const reason of ['late_success', 'order_refused', 'statement'] as const) {
      expect(moneyBackAction({ reason, policy: 'refund' })).toBe('refund');
      expect(moneyBackAction({ reason, policy: 'review' })).toBe('review');
    }
    expect(moneyBackAction({ reason: 'order_refused', policy: 'refund', orderRefusal: 'order_cancelled' })).toBe(
      'refund',
    );
  });

  it('leaves an amount the order did not expect to a person, whatever the policy', () => {
    expect(moneyBackAction({ reason: 'order_refused', policy: 'refund', orderRefusal: 'amount_mismatch' })).toBe(
      'review',
    );
  });

  it('builds the same refund input whoever starts the refund', () => {
    const payment = { paymentId: 'p', orderId: 'o', channel: 'sandboxpay', amount: 2599, currency: 'CNY' };
    expect(refundInput({ ...payment, extra: 1 } as typeof payment, 'late_success', [10])).toEqual({
      ...payment,
      reason: 'late_success',
      querySchedule: [10],
    });
  });
});
