import { formatMoney, minorDigits } from '../../workflows/money';
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
