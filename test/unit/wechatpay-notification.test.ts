// A WeChat Pay v3 payment notification through our verifier: signature, envelope, decrypted transaction, merchant
// checks, status words. The notifications are made with the same signing and encryption the vendor's Go SDK accepts
// (test/unit/wechatpay-crosscheck.test.ts).
import { generateKeyPairSync } from 'node:crypto';
import { PlatformKeys } from '../../channels/wechatpay/crypto';
import { fromOutTradeNo, TRADE_STATES, toOutTradeNo, verifyNotification } from '../../channels/wechatpay/notification';
import { platformNotification } from '../support/wechatpay';

const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SERIAL = 'PUB_KEY_ID_0119000000012026112700000000000001';
const API_V3_KEY = 'a32byteApiV3KeyForTheEmulator!!!';
const NOW = Date.parse('2026-11-27T04:00:05Z');
const PAYMENT_ID = '9f1c2d4e-5b6a-4c7d-8e9f-0a1b2c3d4e5f';
const keys = new PlatformKeys();
keys.addPublicKey(SERIAL, platform.publicKey.export({ type: 'spki', format: 'pem' }) as string);
const ctx = { keys, apiV3Key: API_V3_KEY, mchId: '1900000001', appId: 'wxd678efh567hg6787' };

function notification(
  trade: Record<string, unknown> = {},
  options: { serial?: string; at?: number; key?: string } = {},
) {
  const transaction = {
    mchid: '1900000001',
    appid: 'wxd678efh567hg6787',
    out_trade_no: toOutTradeNo(PAYMENT_ID),
    transaction_id: '4200000000202611270000000001',
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    success_time: '2026-11-27T12:00:00+08:00',
    payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
    amount: { total: 2599, payer_total: 2599, currency: 'CNY', payer_currency: 'CNY' },
    ...trade,
  };
  const { body, headers } = platformNotification({
    privateKey: platform.privateKey,
    serial: options.serial ?? SERIAL,
    apiV3Key: options.key ?? API_V3_KEY,
    transaction,
    at: options.at ?? NOW,
  });
  return { body: Buffer.from(body), header: (name: string) => headers[name.toLowerCase()] };
}

const verify = (
  n: ReturnType<typeof notification>,
  c: Partial<typeof ctx> & { onUnknownState?: (s: string) => void } = {},
) => verifyNotification(n.body, n.header, NOW, { ...ctx, ...c });

describe('WeChat Pay payment notifications', () => {
  it('turns a signed, encrypted TRANSACTION.SUCCESS into our callback: our payment id, fen, UTC time', () => {
    const result = verify(notification());
    expect(result).toEqual({
      ok: true,
      callback: {
        eventId: 'EV-2026112712000001',
        eventType: 'TRANSACTION.SUCCESS',
        channelPaymentId: '4200000000202611270000000001',
        paymentId: PAYMENT_ID,
        merchantId: '1900000001',
        state: 'SUCCESS',
        channelStatus: 'SUCCESS',
        amount: 2599,
        currency: 'CNY',
        paidAt: '2026-11-27T04:00:00.000Z',
      },
      payload: expect.any(Object),
    });
    // The event log keeps the trade's facts, not the payer's openid or the ciphertext.
    const stored = JSON.stringify((result as { payload: unknown }).payload);
    expect(stored).not.toMatch(/openid|oUpF8u|ciphertext/);
    expect(stored).toContain('4200000000202611270000000001');
  });

  it('maps every trade_state word, and counts an unknown one as pending, loudly', () => {
    for (const [word, state] of Object.entries(TRADE_STATES)) {
      expect(verify(notification({ trade_state: word }))).toMatchObject({ ok: true, callback: { state } });
    }
    const unknown: string[] = [];
    expect(verify(notification({ trade_state: 'ACCEPT' }), { onUnknownState: (s) => unknown.push(s) })).toMatchObject({
      ok: true,
      callback: { state: 'PENDING', channelStatus: 'ACCEPT' },
    });
    expect(unknown).toEqual(['ACCEPT']);
  });

  it('refuses another merchant or app, signed or not', () => {
    expect(verify(notification({ mchid: '1900000002' }))).toEqual({ ok: false, reason: 'wrong_merchant' });
    expect(verify(notification({ appid: 'wx0000000000000000' }))).toEqual({ ok: false, reason: 'wrong_merchant' });
  });

  it('checks the signature before anything else: tampered, unknown key, stale', () => {
    const n = notification();
    const tampered = { ...n, body: Buffer.from(n.body.toString('utf8').replace('支付成功', '支付失败')) };
    expect(verify(tampered)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verify(notification({}, { serial: 'PUB_KEY_ID_unknown' }))).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
    expect(verify(notification({}, { at: NOW - 300_000 }))).toEqual({ ok: false, reason: 'stale_timestamp' });
  });

  it('finds a signed notification it cannot decrypt or read malformed, never accepted', () => {
    expect(verify(notification({}, { key: 'another32byteApiV3KeyForTheEmu!!' }))).toEqual({
      ok: false,
      reason: 'malformed_body',
      detail: 'the resource did not decrypt',
    });
    expect(verify(notification({ out_trade_no: 'not-ours-123' }))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
    expect(verify(notification({ amount: { total: 25.99, currency: 'CNY' } }))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
  });

  it("carries our payment id as a 32-character out_trade_no (WeChat Pay's limit) and back", () => {
    expect(toOutTradeNo(PAYMENT_ID)).toBe('9f1c2d4e5b6a4c7d8e9f0a1b2c3d4e5f');
    expect(fromOutTradeNo(toOutTradeNo(PAYMENT_ID))).toBe(PAYMENT_ID);
    expect(fromOutTradeNo('order-123')).toBeUndefined();
    expect(() => toOutTradeNo('order-123')).toThrow(RangeError);
  });
});
