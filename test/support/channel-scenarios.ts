// The payment scenarios that matter, written once and run on every channel's test double through the whole stack
// (API, worker, dev server, PostgreSQL, order service, the channel's double over real HTTP): paid by callback;
// callback lost (the query finds it); never paid (closed at expiry); the close loses the race to a payment; a late
// success after the close is refunded; the order service refuses a paid result (refunded); duplicate and
// out-of-order notifications; forged, stale, wrong-merchant and wrong-amount notifications change nothing.
// A channel's driver says how its buyer pays, how its faults are set, what the channel says of a payment, and how
// a notification is forged for it.
import { randomUUID } from 'node:crypto';
import { walletIdOf } from '../../scripts/chaos/channels';
import type { WalletFaults } from '../../sandbox/wallet';
import { call } from './openapi';
import { type ChannelDouble, Stack } from './stack';

/** The API's payment, as far as the scenarios read it. */
export interface PaymentBody {
  paymentId: string;
  status: string;
  payUrl: string | null;
  handoff: { kind: string; url?: string; codeUrl?: string; pageUrl?: string; clientSecret?: string } | null;
  resolvedBy: string | null;
}

/** What the channel itself says of a payment, in the wallet's words. */
export type ChannelTruth = 'NOTPAY' | 'USERPAYING' | 'SUCCESS' | 'CLOSED' | 'PAYERROR' | 'REFUND' | 'NOT_FOUND';

export type Forgery = 'bad_signature' | 'stale_timestamp' | 'wrong_merchant' | 'wrong_amount';

/** A notification to send to POST /callbacks/{channel}. */
export interface Notification {
  body: string;
  headers: Record<string, string>;
}

export interface ChannelDriver {
  channel: string;
  currency?: string;
  doubles: ChannelDouble[];
  /** Stack variables the channel needs beyond its double's. */
  env?: Record<string, string>;
  /** Called once the stack is up. */
  attach(s: Stack): Promise<void>;
  /** Sets the double's faults (the wallet's fault names). */
  setFaults(faults: Partial<WalletFaults>): Promise<void>;
  /**
   * Scenarios that cannot happen on this channel, each with the reason (e.g. a Stripe PaymentIntent once canceled
   * can never succeed: no late success after the close, no close racing a payment).
   */
  cannot?: Partial<Record<'closeRace' | 'lateSettle', string>>;
  /** The buyer pays or declines what they were handed. */
  act(payment: PaymentBody, action: 'pay' | 'decline'): Promise<void>;
  /** The channel's own record of the payment. */
  truth(payment: PaymentBody): Promise<ChannelTruth>;
  /** How many of the channel's notifications of this payment got an answer that means "accepted" in its words. */
  acceptedNotifications(payment: PaymentBody): Promise<number>;
  /** A notification that must change nothing: forged (or genuine, but for another amount). */
  forge(payment: PaymentBody, how: Forgery): Promise<Notification>;
}

const NO_FAULTS: Partial<WalletFaults> = {
  callbackDropRate: 0,
  callbackDuplicateRate: 0,
  callbackDelayRate: 0,
  callbackDelayMinMs: 0,
  callbackDelayMaxMs: 0,
  closeRacePayRate: 0,
  lateSettleRate: 0,
  queryErrorRate: 0,
};

export function describeChannelScenarios(driver: ChannelDriver): void {
  // A scenario the channel cannot have is not declared at all (its reason is in the driver).
  const unless = (what: keyof NonNullable<ChannelDriver['cannot']>) => (driver.cannot?.[what] ? () => undefined : it);

  describe(`${driver.channel}: the payment scenarios on its double, whole stack`, () => {
    let s: Stack;
    beforeAll(async () => {
      s = await Stack.start({
        channelDoubles: driver.doubles,
        env: {
          PAYMENT_QUERY_SCHEDULE: '2s,3s',
          PAYMENT_EXPIRY: '10s',
          LATE_CALLBACK_WINDOW: '15s',
          ...driver.env,
        },
      });
      await driver.attach(s);
    });
    afterAll(async () => {
      await s?.stop();
    });
    afterEach(async () => {
      await driver.setFaults(NO_FAULTS);
    });

    const currency = driver.currency ?? 'CNY';
    async function pay(amount = 2599): Promise<{ orderId: string; payment: PaymentBody }> {
      const orderId = await s.createOrder(amount, currency);
      const created = await call(s.apiUrl, 'POST', '/payments', {
        body: { orderId, amount, currency, channel: driver.channel },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(created.status).toBe(201);
      return { orderId, payment: created.body as PaymentBody };
    }
    const get = async (id: string) => (await call(s.apiUrl, 'GET', `/payments/${id}`)).body as PaymentBody;
    const until = (id: string, status: string, timeoutMs = 40_000) =>
      s.eventually(
        `payment ${id} to be ${status}`,
        async () => {
          const p = await get(id);
          return p.status === status && p;
        },
        timeoutMs,
      );
    const statuses = async (id: string) =>
      (await s.t.db('payment_status_history').where({ payment_id: id }).orderBy('id').select('status')).map(
        (r: { status: string }) => r.status,
      );

    it('paid by callback: the order turns paid, the notification is answered as accepted', async () => {
      const { orderId, payment } = await pay();
      expect(payment.handoff).not.toBeNull();
      await driver.act(payment, 'pay');
      const paid = await until(payment.paymentId, 'SUCCESS');
      expect(paid.resolvedBy).toBe('callback');
      await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
      expect(await driver.truth(payment)).toBe('SUCCESS');
      await s.eventually(
        'the notification to be accepted',
        async () => (await driver.acceptedNotifications(payment)) > 0,
      );
    });

    it('callback lost: the scheduled query finds the payment', async () => {
      await driver.setFaults({ callbackDropRate: 1 });
      const { orderId, payment } = await pay();
      await driver.act(payment, 'pay');
      expect((await until(payment.paymentId, 'SUCCESS')).resolvedBy).toBe('query');
      await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    });

    it('never paid: closed at the channel at expiry', async () => {
      const { payment } = await pay();
      await until(payment.paymentId, 'CLOSED');
      expect(await driver.truth(payment)).toBe('CLOSED');
    });

    unless('closeRace')('the close at expiry loses the race to the buyer paying: paid, not closed', async () => {
      await driver.setFaults({ closeRacePayRate: 1, callbackDropRate: 1 });
      const { orderId, payment } = await pay();
      await until(payment.paymentId, 'SUCCESS');
      expect(await driver.truth(payment)).toBe('SUCCESS');
      await s.eventually('the order to be paid', async () => (await s.order(orderId)).status === 'PAID');
    });

    unless('lateSettle')('a late success after the close is refunded', async () => {
      await driver.setFaults({ lateSettleRate: 1, lateSettleDelayMs: 1000 });
      const { payment } = await pay();
      await until(payment.paymentId, 'CLOSED');
      await until(payment.paymentId, 'REFUNDED', 60_000);
      await s.eventually('the channel to have refunded it', async () => (await driver.truth(payment)) === 'REFUND');
    });

    it('the order service refuses the paid result (the shop cancelled the order): refunded', async () => {
      const { orderId, payment } = await pay();
      await fetch(`${s.ordersUrl}/orders/${orderId}/cancel`, { method: 'POST' });
      await driver.act(payment, 'pay');
      await until(payment.paymentId, 'REFUNDED', 60_000);
      await s.eventually('the channel to have refunded it', async () => (await driver.truth(payment)) === 'REFUND');
      expect((await s.order(orderId)).status).toBe('CANCELLED');
    });

    it('duplicate and delayed notifications make one transition', async () => {
      await driver.setFaults({
        callbackDuplicateRate: 1,
        callbackDelayRate: 1,
        callbackDelayMinMs: 100,
        callbackDelayMaxMs: 600,
      });
      const { payment } = await pay();
      await driver.act(payment, 'pay');
      await until(payment.paymentId, 'SUCCESS');
      await s.eventually('both copies to be accepted', async () => (await driver.acceptedNotifications(payment)) >= 2);
      const events = await s.repo.listEvents(payment.paymentId);
      expect(events.filter((e) => e.source === 'callback')).toHaveLength(1); // recorded once, by the channel's event id
      expect((await statuses(payment.paymentId)).filter((st) => st === 'SUCCESS')).toHaveLength(1);
    });

    it('forged, stale, wrong-merchant and wrong-amount notifications change nothing', async () => {
      await driver.setFaults({ callbackDropRate: 1 });
      const { payment } = await pay();
      const send = async (n: Notification) =>
        call(s.apiUrl, 'POST', `/callbacks/${driver.channel}`, { raw: n.body, headers: n.headers });
      for (const how of ['bad_signature', 'stale_timestamp', 'wrong_merchant'] as const) {
        const answer = await send(await driver.forge(payment, how));
        expect([how, answer.status]).toEqual([how, 401]);
      }
      // Genuinely signed, but for another amount: accepted as a notification, never as a payment.
      const wrongAmount = await send(await driver.forge(payment, 'wrong_amount'));
      expect(wrongAmount.status).toBeLessThan(300);
      await s.eventually('the workflow to note the mismatch', async () => {
        const live = (await call(s.apiUrl, 'GET', `/payments/${payment.paymentId}?live=1`)).body;
        return (live.live?.anomalies ?? []).some((a: { kind: string }) => a.kind === 'callback_mismatch');
      });
      expect((await get(payment.paymentId)).status).toBe('PAYING');
      expect(await driver.truth(payment)).toBe('NOTPAY');
      // The real payment still goes through (the query decides).
      await driver.act(payment, 'pay');
      await until(payment.paymentId, 'SUCCESS');
    });
  });
}

/**
 * The wallet every emulator of ours shares (sandbox/wallet.ts), over its HTTP routes: faults, the buyer's actions and
 * the channel's record, found by the wallet id in what the buyer was handed (its page is /pay/{id}).
 */
export class WalletClient {
  constructor(readonly baseUrl: string) {}

  static idOf(payment: PaymentBody): string {
    const id = walletIdOf(payment as unknown as Record<string, unknown>);
    if (!id) throw new Error(`no wallet page in ${JSON.stringify(payment.handoff)}`);
    return id;
  }

  async setFaults(faults: Partial<WalletFaults>): Promise<void> {
    const res = await fetch(`${this.baseUrl}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
    });
    if (!res.ok) throw new Error(`PUT /admin/faults: ${res.status} ${await res.text()}`);
  }

  async act(payment: PaymentBody, action: 'pay' | 'decline'): Promise<void> {
    const res = await fetch(`${this.baseUrl}/wallet/${encodeURIComponent(WalletClient.idOf(payment))}/${action}`, {
      method: 'POST',
    });
    if (!res.ok) throw new Error(`the buyer could not ${action}: ${res.status} ${await res.text()}`);
  }

  async record(payment: PaymentBody): Promise<WalletRecord | undefined> {
    const id = WalletClient.idOf(payment);
    const all = (await (await fetch(`${this.baseUrl}/admin/payments`)).json()) as WalletRecord[];
    return all.find((p) => p.channelPaymentId === id);
  }

  async truth(payment: PaymentBody): Promise<ChannelTruth> {
    return (await this.record(payment))?.status ?? 'NOT_FOUND';
  }

  async acceptedNotifications(payment: PaymentBody): Promise<number> {
    return ((await this.record(payment))?.deliveries ?? []).filter((d) => d.accepted).length;
  }
}

interface WalletRecord {
  channelPaymentId: string;
  merchantOrderId: string;
  status: ChannelTruth;
  amount: number;
  deliveries: { accepted: boolean; httpStatus: number }[];
}

/**
 * The driver of a channel whose double is one of our emulators: faults, the buyer and the channel's record are the
 * shared wallet's (at `walletUrl`, once the stack is up); only the forgeries are the channel's own.
 */
export function walletDriver(options: {
  channel: string;
  doubles: ChannelDouble[];
  walletUrl: (s: Stack) => string;
  forge: ChannelDriver['forge'];
}): ChannelDriver {
  let wallet: WalletClient | undefined;
  const w = () => {
    if (!wallet) throw new Error('the stack is not up yet');
    return wallet;
  };
  return {
    channel: options.channel,
    doubles: options.doubles,
    async attach(s) {
      wallet = new WalletClient(options.walletUrl(s));
    },
    setFaults: (faults) => w().setFaults(faults),
    act: (payment, action) => w().act(payment, action),
    truth: (payment) => w().truth(payment),
    acceptedNotifications: (payment) => w().acceptedNotifications(payment),
    forge: options.forge,
  };
}
