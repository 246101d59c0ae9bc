// The channel scenarios (test/support/channel-scenarios.ts) on Stripe: our adapter on the official SDK against
// localstripe, with the fault proxy (sandbox/stripe/fault-proxy.ts) on both of its sides playing the wallet's faults
// (localstripe has none), and the buyer on the test checkout page.
import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { type ChaosChannel, stripeChannel } from '../../scripts/chaos/channels';
import { type StripeFaultProxy, type StripeProxyFaults, startStripeFaultProxy } from '../../sandbox/stripe/fault-proxy';
import { describeChannelScenarios, type PaymentBody } from '../support/channel-scenarios';
import { startStripeDouble, type StripeDouble } from '../support/stripe';

let double: StripeDouble;
let proxy: StripeFaultProxy;
let records: ChaosChannel;

const PROXY_FAULTS: (keyof StripeProxyFaults)[] = [
  'queryErrorRate',
  'queryTimeoutRate',
  'queryTimeoutMs',
  'queryLatencyMs',
  'callbackDropRate',
  'callbackDuplicateRate',
  'callbackDelayRate',
  'callbackDelayMinMs',
  'callbackDelayMaxMs',
];

function event(payment: PaymentBody, options: { livemode?: boolean; amount?: number } = {}): string {
  return JSON.stringify({
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    type: 'payment_intent.succeeded',
    created: Math.floor(Date.now() / 1000),
    livemode: options.livemode ?? false,
    data: {
      object: {
        id: payment.handoff!.clientSecret!.split('_secret_')[0],
        object: 'payment_intent',
        status: 'succeeded',
        amount: options.amount ?? 2599,
        currency: 'usd',
        created: Math.floor(Date.now() / 1000),
        metadata: { payment_id: payment.paymentId },
      },
    },
  });
}

function signed(payload: string, secret = double.webhookSecret, ageS = 0) {
  const header = new Stripe('sk_test_signer').webhooks.generateTestHeaderString({
    payload,
    secret,
    timestamp: Math.floor(Date.now() / 1000) - ageS,
  });
  return { body: payload, headers: { 'content-type': 'application/json', 'stripe-signature': header } };
}

describeChannelScenarios({
  channel: 'stripe',
  currency: 'USD',
  doubles: [
    async (logger) => {
      double = await startStripeDouble(logger);
      proxy = await startStripeFaultProxy({ upstream: double.localstripe.url, seed: 'scenarios', logger });
      await double.localstripe.registerWebhook('api', proxy.webhookUrl, double.webhookSecret);
      records = stripeChannel(double.localstripe.url, double.localstripe.secretKey);
      return {
        env: { ...double.env, STRIPE_API_URL: proxy.apiUrl },
        stop: async () => {
          await proxy.stop();
          await double.stop();
        },
      };
    },
  ],
  cannot: {
    closeRace:
      'a PaymentIntent is canceled or paid, atomically at Stripe: cancel after a success fails and the adapter ' +
      'answers SUCCESS (test/integration/stripe.test.ts), but localstripe cannot interleave a payment with a cancel',
    lateSettle: 'a canceled PaymentIntent can never succeed at Stripe: there is no late success after the close',
  },
  async attach(s) {
    proxy.setWebhookTarget(`${s.apiUrl}/callbacks/stripe`);
  },
  async setFaults(faults) {
    const relevant = Object.fromEntries(
      Object.entries(faults).filter(([k]) => PROXY_FAULTS.includes(k as keyof StripeProxyFaults)),
    );
    proxy.setFaults(relevant);
  },
  async act(payment, action) {
    const answer = await double.buyer(payment.handoff!.pageUrl!, action);
    if (answer.status !== 200) throw new Error(`the checkout page refused to ${action}: ${answer.status}`);
  },
  async truth(payment) {
    const mine = (await records.records()).find((r) => r.merchantOrderId === payment.paymentId);
    return (mine?.status as 'SUCCESS' | 'REFUND' | 'CLOSED' | 'NOTPAY' | undefined) ?? 'NOT_FOUND';
  },
  async acceptedNotifications(payment) {
    return proxy.deliveries.filter(
      (d) => d.paymentId === payment.paymentId && d.httpStatus >= 200 && d.httpStatus < 300,
    ).length;
  },
  async forge(payment, how) {
    switch (how) {
      case 'bad_signature':
        return signed(event(payment), 'whsec_forger');
      case 'stale_timestamp':
        return signed(event(payment), double.webhookSecret, 600);
      case 'wrong_merchant':
        return signed(event(payment, { livemode: true }));
      case 'wrong_amount':
        return signed(event(payment, { amount: 1 }));
    }
  },
});
