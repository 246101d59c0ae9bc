// Alipay's RSA2 signing as the platform does it, for our Alipay emulator (issue 12): checking a merchant's signed
// request, and signing what Alipay sends back (gateway replies, asynchronous notifications). Our adapter does not use
// this: it verifies with the official alipay-sdk. test/unit/alipay-signing.test.ts has that SDK judge this code.
//   - request:      RSA-SHA256 over the parameters but `sign`, sorted by name, "k=v" joined by "&", raw values;
//   - notification: likewise without `sign` and `sign_type` (Alipay's rule for async notifications);
//   - reply:        RSA-SHA256 over the exact JSON text of the "<method>_response" node, sent beside it as "sign".
import { createSign, createVerify, type KeyObject } from 'node:crypto';

type Key = KeyObject | string;

/** The text a signature covers: sorted "k=v" pairs of the non-empty parameters not excluded. */
export function signContent(params: Record<string, string>, exclude: readonly string[]): string {
  return Object.keys(params)
    .filter((k) => !exclude.includes(k) && params[k] !== undefined && params[k] !== '')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

const rsa2 = (text: string, key: Key) => createSign('RSA-SHA256').update(text, 'utf8').sign(key, 'base64');

/** A merchant's request, as the gateway checks it with the app's public key. */
export function verifyRequest(params: Record<string, string>, appPublicKey: Key): boolean {
  if (!params.sign || (params.sign_type ?? 'RSA2') !== 'RSA2') return false;
  return createVerify('RSA-SHA256')
    .update(signContent(params, ['sign']), 'utf8')
    .verify(appPublicKey, params.sign, 'base64');
}

/** An asynchronous notification's form fields, signed: `sign_type` RSA2 and `sign` added. */
export function signNotification(params: Record<string, string>, alipayPrivateKey: Key): Record<string, string> {
  const fields = { ...params, sign_type: 'RSA2' };
  return { ...fields, sign: rsa2(signContent(fields, ['sign', 'sign_type']), alipayPrivateKey) };
}

/** A gateway reply's body: {"<method>_response": {...}, "sign": "..."}, the signature over the node's JSON text. */
export function signReply(method: string, response: object, alipayPrivateKey: Key): string {
  const node = JSON.stringify(response);
  const key = `${method.replaceAll('.', '_')}_response`;
  return `{"${key}":${node},"sign":${JSON.stringify(rsa2(node, alipayPrivateKey))}}`;
}
