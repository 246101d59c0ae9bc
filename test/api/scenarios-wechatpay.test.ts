// The channel scenarios (test/support/channel-scenarios.ts) on WeChat Pay: our adapter against the v3 emulator, both
// speaking the vendor's wire protocol (signed requests and replies, AES-GCM encrypted notifications answered 204).
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toOutTradeNo } from '../../channels/wechatpay/notification';
import { describeChannelScenarios, type PaymentBody, WalletClient, walletDriver } from '../support/channel-scenarios';
import { platformNotification } from '../support/wechatpay';
import { type RunningWechatPay, wechatPayDouble } from '../support/wechatpay-emulator';

let wp: RunningWechatPay;

function notification(
  payment: PaymentBody,
  options: { key?: 'stranger'; at?: number; mchid?: string; amount?: number } = {},
) {
  const privateKey =
    options.key === 'stranger'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
      : createPrivateKey(readFileSync(wp.env.WECHATPAY_EMULATOR_PLATFORM_PRIVATE_KEY_FILE!, 'utf8'));
  const amount = options.amount ?? 2599;
  const n = platformNotification({
    privateKey,
    serial: wp.env.WECHATPAY_PUBLIC_KEY_ID!,
    apiV3Key: wp.env.WECHATPAY_API_V3_KEY!,
    id: `EV-${randomUUID()}`,
    ...(options.at !== undefined ? { at: options.at } : {}),
    transaction: {
      mchid: options.mchid ?? wp.env.WECHATPAY_MCHID,
      appid: wp.env.WECHATPAY_APPID,
      out_trade_no: toOutTradeNo(payment.paymentId),
      transaction_id: WalletClient.idOf(payment),
      trade_type: 'NATIVE',
      trade_state: 'SUCCESS',
      success_time: '2026-11-27T12:00:00+08:00',
      amount: { total: amount, payer_total: amount, currency: 'CNY' },
    },
  });
  return { body: n.body, headers: { 'content-type': 'application/json', ...n.headers } };
}

describeChannelScenarios(
  walletDriver({
    channel: 'wechatpay',
    doubles: [wechatPayDouble({ started: (running) => (wp = running), callbackRetryScale: 0.01 })],
    walletUrl: () => wp.url,
    async forge(payment, how) {
      switch (how) {
        case 'bad_signature':
          return notification(payment, { key: 'stranger' });
        case 'stale_timestamp':
          return notification(payment, { at: Date.now() - 600_000 });
        case 'wrong_merchant':
          return notification(payment, { mchid: '1900009999' });
        case 'wrong_amount':
          return notification(payment, { amount: 1 });
      }
    },
  }),
);
