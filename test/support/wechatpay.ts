// A WeChat Pay v3 notification as the platform sends it (signed headers, encrypted resource), for the tests of our
// verifier and of the vendor SDK's verdict on what we make.
import type { KeyObject } from 'node:crypto';
import { encryptResource, signResponse } from '../../channels/wechatpay/crypto';

export interface NotificationOptions {
  privateKey: KeyObject;
  serial: string;
  apiV3Key: string;
  /** The decrypted resource: a transaction. */
  transaction: object;
  /** When it was signed, ms since the epoch; default now. */
  at?: number;
  nonce?: string;
  /** The notification's id (what duplicates share); default a fixed one. */
  id?: string;
}

export function platformNotification(options: NotificationOptions): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    id: options.id ?? 'EV-2026112712000001',
    create_time: '2026-11-27T12:00:01+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource: {
      original_type: 'transaction',
      ...encryptResource(JSON.stringify(options.transaction), options.apiV3Key),
    },
  });
  const timestamp = String(Math.floor((options.at ?? Date.now()) / 1000));
  const nonce = options.nonce ?? 'f3b2a1c0d9e8';
  return {
    body,
    headers: {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': nonce,
      'wechatpay-serial': options.serial,
      'wechatpay-signature': signResponse(options.privateKey, timestamp, nonce, body),
    },
  };
}
