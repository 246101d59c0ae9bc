import {
  audit,
  type AuditInput,
  type ChannelRecord,
  type OrderRecord,
  type OurPayment,
} from '../../scripts/chaos/audit';

const NOW = new Date('2026-11-25T12:00:00Z');
const earlier = (s: number) => new Date(NOW.getTime() - s * 1000);

function world(overrides: Partial<AuditInput> = {}): AuditInput {
  return { channel: [], payments: [], orders: [], events: [], now: NOW, graceMs: 60_000, ...overrides };
}
const ours = (id: string, status: string, extra: Partial<OurPayment> = {}): OurPayment => ({
  id,
  order_id: `o-${id}`,
  status,
  resolved_by: 'callback',
  expires_at: earlier(600),
  finalized_at: earlier(500),
  order_notified_at: earlier(490),
  ...extra,
});
const channel = (id: string, status: string, extra: Partial<ChannelRecord> = {}): ChannelRecord => ({
  channelPaymentId: `sp-${id}`,
  merchantOrderId: id,
  status,
  amount: 100,
  paidAt: earlier(510).toISOString(),
  refunds: [],
  ...extra,
});
const order = (
  id: string,
  status: string,
  paidBy: string | null,
  transitions: OrderRecord['transitions'] = [],
): OrderRecord => ({
  orderId: `o-${id}`,
  status,
  paymentId: paidBy,
  transitions,
});
const paidTransition = (paymentId: string, at = earlier(495)) => ({
  paymentId,
  paymentStatus: 'SUCCESS',
  toStatus: 'PAID',
  accepted: true,
  at: at.toISOString(),
});

describe('the chaos audit', () => {
  it('finds nothing wrong in a consistent world, and measures channel success to order paid', () => {
    const report = audit(
      world({
        channel: [channel('a', 'SUCCESS'), channel('b', 'CLOSED', { paidAt: undefined })],
        payments: [ours('a', 'SUCCESS'), ours('b', 'CLOSED', { resolved_by: 'close' })],
        orders: [order('a', 'PAID', 'a', [paidTransition('a')]), order('b', 'UNPAID', null)],
      }),
    );
    expect(report.totalViolations).toBe(0);
    expect(report.channelSuccessToOrderPaidMs).toEqual({
      callback: { n: 1, p50: 15_000, p95: 15_000, p99: 15_000, max: 15_000 },
    });
  });

  it('catches a drop order: paid at the channel, order still unpaid', () => {
    const report = audit(
      world({
        channel: [channel('a', 'SUCCESS')],
        payments: [ours('a', 'PAYING')],
        orders: [order('a', 'UNPAID', null)],
      }),
    );
    expect(report.violations.dropOrders).toEqual(['a']);
    expect(report.violations.notFinalAfterDeadline).toEqual(['a']);
  });

  it('catches an order paid that the channel never paid, and a success here the channel does not have', () => {
    const report = audit(
      world({
        channel: [channel('a', 'CLOSED')],
        payments: [ours('a', 'SUCCESS')],
        orders: [order('a', 'PAID', 'a', [paidTransition('a')])],
      }),
    );
    expect(report.violations.paidInOrderNotAtChannel).toEqual(['o-a']);
    expect(report.violations.paidHereNotAtChannel).toEqual(['a']);
  });

  it('catches a second payment transition for one order', () => {
    const report = audit(
      world({
        channel: [channel('a', 'SUCCESS')],
        payments: [ours('a', 'SUCCESS')],
        orders: [
          order('a', 'PAID', 'a', [paidTransition('a'), { ...paidTransition('a'), at: earlier(1).toISOString() }]),
        ],
      }),
    );
    expect(report.violations.multipleTransitions).toEqual(['o-a']);
  });

  it('accepts a late success being refunded, but not one stuck refunding or never acknowledged', () => {
    const refunded = audit(
      world({
        channel: [channel('a', 'REFUND')],
        payments: [ours('a', 'REFUNDED')],
        orders: [order('a', 'UNPAID', null)],
        events: [{ payment_id: 'a', type: 'anomaly:late_success' }],
      }),
    );
    expect(refunded.totalViolations).toBe(0);
    expect(refunded.lateSuccesses).toEqual({ payments: 1, outcomes: { REFUNDED: 1 } });

    const stuck = audit(
      world({
        channel: [channel('a', 'SUCCESS')],
        payments: [ours('a', 'REFUNDING'), ours('b', 'CLOSED', { order_notified_at: null })],
        orders: [order('a', 'UNPAID', null)],
      }),
    );
    expect(stuck.violations.refundsNotFinished).toEqual(['a']);
    expect(stuck.violations.unacknowledged).toEqual(['b']);
    expect(stuck.violations.dropOrders).toEqual([]);
  });

  it('attributes a payment repaired by reconciliation to that path', () => {
    const report = audit(
      world({
        channel: [channel('a', 'SUCCESS')],
        payments: [ours('a', 'SUCCESS', { resolved_by: 'query' })],
        orders: [order('a', 'PAID', 'a', [paidTransition('a')])],
        events: [{ payment_id: 'a', type: 'reconcile:restart' }],
      }),
    );
    expect(Object.keys(report.channelSuccessToOrderPaidMs)).toEqual(['reconciliation']);
  });
});
