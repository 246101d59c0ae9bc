import {
  allowedPredecessors,
  canTransition,
  FINAL_STATUSES,
  isFinal,
  orderResultFor,
  PAYMENT_STATUSES,
  statusForChannelState,
  type PaymentStatus,
} from '../../workflows/states';

describe('payment state machine', () => {
  it('follows the happy path UNPAID -> PAYING -> SUCCESS', () => {
    expect(canTransition('UNPAID', 'PAYING')).toBe(true);
    expect(canTransition('PAYING', 'SUCCESS')).toBe(true);
  });

  it('never lets a final state move backwards or sideways', () => {
    for (const final of FINAL_STATUSES) {
      expect(canTransition(final, 'PAYING')).toBe(false);
      expect(canTransition(final, 'UNPAID')).toBe(false);
    }
    expect(canTransition('SUCCESS', 'FAILED')).toBe(false);
    expect(canTransition('SUCCESS', 'CLOSED')).toBe(false);
    expect(canTransition('CLOSED', 'SUCCESS')).toBe(false);
  });

  it("ends a review only by an operator's decision: refunded, accepted or closed, each for good", () => {
    expect(PAYMENT_STATUSES.filter((to) => canTransition('NEEDS_REVIEW', to)).sort()).toEqual([
      'ACCEPTED',
      'REFUNDED',
      'REVIEW_CLOSED',
    ]);
    for (const end of ['ACCEPTED', 'REVIEW_CLOSED'] as PaymentStatus[]) {
      expect(isFinal(end)).toBe(true);
      expect(PAYMENT_STATUSES.filter((to) => canTransition(end, to))).toEqual([]);
    }
    expect(orderResultFor('ACCEPTED')).toBe('SUCCESS');
    expect(orderResultFor('REVIEW_CLOSED')).toBe('CLOSED');
    expect(orderResultFor('NEEDS_REVIEW')).toBeUndefined();
  });

  it('sends a success after an unpaid final state down the anomaly path only', () => {
    for (const from of ['CLOSED', 'CANCELLED', 'FAILED'] as PaymentStatus[]) {
      expect(canTransition(from, 'NEEDS_REVIEW')).toBe(true);
      expect(canTransition(from, 'REFUNDING')).toBe(true);
    }
    expect(canTransition('REFUNDING', 'REFUNDED')).toBe(true);
  });

  it('refunds a success the order service refused, but never turns it into an unpaid state', () => {
    expect(canTransition('SUCCESS', 'REFUNDING')).toBe(true);
    expect(canTransition('REFUNDED', 'REFUNDING')).toBe(false);
    expect(canTransition('REFUNDING', 'SUCCESS')).toBe(false);
  });

  it('has no cycles: every path ends', () => {
    const visit = (status: PaymentStatus, path: PaymentStatus[]): void => {
      expect(path).not.toContain(status);
      for (const next of PAYMENT_STATUSES.filter((to) => canTransition(status, to))) visit(next, [...path, status]);
    };
    visit('UNPAID', []);
  });

  it('lists the predecessors a guarded update may start from', () => {
    expect(allowedPredecessors('SUCCESS')).toEqual(['PAYING']);
    expect(allowedPredecessors('PAYING')).toEqual(['UNPAID']);
    expect(allowedPredecessors('NEEDS_REVIEW').sort()).toEqual([
      'CANCELLED',
      'CLOSED',
      'FAILED',
      'PAYING',
      'REFUNDING',
      'SUCCESS',
    ]);
  });

  it('maps channel states to payment states, pending to none', () => {
    expect(statusForChannelState('SUCCESS')).toBe('SUCCESS');
    expect(statusForChannelState('FAILED')).toBe('FAILED');
    expect(statusForChannelState('CLOSED')).toBe('CLOSED');
    expect(statusForChannelState('NOT_FOUND')).toBe('CLOSED');
    expect(statusForChannelState('PENDING')).toBeUndefined();
    expect(isFinal('PAYING')).toBe(false);
    expect(isFinal('NEEDS_REVIEW')).toBe(true);
  });
});
