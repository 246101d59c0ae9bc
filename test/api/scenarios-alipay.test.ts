// The channel scenarios (test/support/channel-scenarios.ts) on Alipay: our adapter (the official alipay-sdk, every
// reply's signature checked) against our OpenAPI v2 gateway emulator, notifications form-encoded, RSA2-signed and
// answered `success`.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toBeijingTime, toOutTradeNo } from '../../channels/alipay/fields';
import { toDecimalString } from '../../channels/money';
import { signNotification } from '../../sandbox/alipay/signing';
import { alipayDouble, type RunningAlipayEmulator } from '../support/alipay';
import { describeChannelScenarios, type PaymentBody, WalletClient, walletDriver } from '../support/channel-scenarios';

let alipay: RunningAlipayEmulator;

/** A trade_status_sync notification of the payment, signed by Alipay's key (or a stranger's). */
function notification(
  payment: PaymentBody,
  options: { key?: 'stranger'; at?: number; sellerId?: string; amount?: number } = {},
) {
  const key =
    options.key === 'stranger'
      ? String(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
      : readFileSync(alipay.env.ALIPAY_EMULATOR_PRIVATE_KEY_FILE!, 'utf8');
  const fields = signNotification(
    {
      notify_id: `nid_${randomUUID().replace(/-/g, '')}`,
      notify_time: toBeijingTime(options.at ?? Date.now()),
      notify_type: 'trade_status_sync',
      app_id: alipay.env.ALIPAY_APP_ID!,
      seller_id: options.sellerId ?? alipay.env.ALIPAY_SELLER_ID!,
      trade_no: WalletClient.idOf(payment),
      out_trade_no: toOutTradeNo(payment.paymentId),
      trade_status: 'TRADE_SUCCESS',
      total_amount: toDecimalString(options.amount ?? 2599, 'CNY'),
      gmt_payment: toBeijingTime(Date.now()),
      subject: 'order 100% paid',
      charset: 'utf-8',
      version: '1.0',
    },
    key,
  );
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  };
}

describeChannelScenarios(
  walletDriver({
    channel: 'alipay',
    doubles: [alipayDouble((running) => (alipay = running), { callbackRetryScale: 0.01 })],
    walletUrl: () => alipay.url,
    async forge(payment, how) {
      switch (how) {
        case 'bad_signature':
          return notification(payment, { key: 'stranger' });
        case 'stale_timestamp':
          return notification(payment, { at: Date.now() - 2 * 86_400_000 }); // older than Alipay's 25 h of retries
        case 'wrong_merchant':
          return notification(payment, { sellerId: '2088999999999999' });
        case 'wrong_amount':
          return notification(payment, { amount: 1 });
      }
    },
  }),
);
