// The channel scenarios (test/support/channel-scenarios.ts) on SandboxPay, our own simulated channel: the yardstick
// the real channels' doubles are held to.
import { randomUUID } from 'node:crypto';
import { signCallback } from '../../sandbox/sandboxpay';
import { describeChannelScenarios, type PaymentBody, WalletClient, walletDriver } from '../support/channel-scenarios';
import { SECRET, type Stack } from '../support/stack';

let stack: Stack;

function notification(payment: PaymentBody, overrides: Record<string, unknown>, secret = SECRET, ageS = 0) {
  const body = JSON.stringify({
    eventId: `evt_${randomUUID()}`,
    eventType: 'payment.succeeded',
    merchantId: stack.config.sandbox.sandboxpay.merchantId,
    merchantOrderId: payment.paymentId,
    channelPaymentId: WalletClient.idOf(payment),
    status: 'SUCCESS',
    amount: 2599,
    currency: 'CNY',
    ...overrides,
  });
  const timestamp = String(Math.floor(Date.now() / 1000) - ageS);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-sandboxpay-timestamp': timestamp,
      'x-sandboxpay-signature': signCallback(secret, timestamp, body),
    },
  };
}

describeChannelScenarios(
  walletDriver({
    channel: 'sandboxpay',
    doubles: [],
    walletUrl: (s) => {
      stack = s; // the forgeries need its configuration
      return s.sandboxUrl;
    },
    async forge(payment, how) {
      switch (how) {
        case 'bad_signature':
          return notification(payment, {}, 'not-the-secret-0123456789');
        case 'stale_timestamp':
          return notification(payment, {}, SECRET, 600);
        case 'wrong_merchant':
          return notification(payment, { merchantId: 'another-shop' });
        case 'wrong_amount':
          return notification(payment, { amount: 1 });
      }
    },
  }),
);
