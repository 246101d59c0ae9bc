// What Temporal stores of a payment, read as anyone with the server's database (or its backup) would: the raw
// history, fetched without the codec. A payment runs the whole way (created through the API with a description,
// paid in the wallet, the signed callback signalled, the order acknowledged, the buyer's status read); its history
// then holds none of the amount, the order id (outside the search attributes, which stay in clear by design: they
// are indexed), the channel's payment id, the description or the callback's fields, and every payload but the
// search attributes and the SDK's own marker details is encrypted. With the codec, every payload decodes, and the
// workflow's input and the callback it received are what the API and the channel sent.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { ENCODING_ENCRYPTED } from '../../codec/encryption-codec';
import { paymentWorkflowId } from '../../workflows/definitions';
import { devServerAddress } from '../support/env';
import { paidThroughApi } from '../support/operator-payments';
import { Stack } from '../support/stack';

const AMOUNT = 73_519; // 735.19 CNY: digits that appear nowhere else in a history
const utf8 = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');

interface Found {
  path: string;
  payload: temporal.api.common.v1.IPayload;
}

/** Every payload in a history, with where it sits. */
function payloadsOf(history: temporal.api.history.v1.IHistory): Found[] {
  const found: Found[] = [];
  const walk = (o: unknown, path: string): void => {
    if (!o || typeof o !== 'object') return;
    if (o instanceof Uint8Array) return;
    const p = o as temporal.api.common.v1.IPayload;
    if (p.metadata && 'data' in p) {
      found.push({ path, payload: p });
      return;
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
  };
  history.events!.forEach((e, i) => walk(e, `#${i + 1}`));
  return found;
}

describe('payment data in Temporal history', () => {
  let s: Stack;
  let raw: Client;
  let connection: Connection;

  beforeAll(async () => {
    // The first query a minute out: the channel's callback (whose fields the history must hide) decides the payment
    // however busy the machine is (a query first, and the signal may not be in the history yet when it is read).
    s = await Stack.start({ env: { PAYMENT_QUERY_SCHEDULE: '1m' } });
    connection = await Connection.connect({ address: devServerAddress() });
    raw = new Client({ connection }); // no codec: what the server holds
  });
  afterAll(async () => {
    await connection?.close();
    await s?.stop();
  });

  it('is stored encrypted, and decodes with the codec to what the workflow saw', async () => {
    const description = `Ceramic teapot ${randomUUID().slice(0, 8)}`;
    const { paymentId, orderId, channelPaymentId } = await paidThroughApi(s, AMOUNT, description);

    const history = await raw.workflow.getHandle(paymentWorkflowId(paymentId)).fetchHistory();
    const all = payloadsOf(history);
    const searchAttributes = all.filter((f) => f.path.includes('.searchAttributes.'));
    // The SDK's own local-activity marker details (sequence, activity type, times; the result is a payload of its own).
    const markerDetails = all.filter((f) => /\.markerRecordedEventAttributes\.details\.data\./.test(f.path));
    const rest = all.filter((f) => !searchAttributes.includes(f) && !markerDetails.includes(f));
    // Not nothing: at least the input, its summary, the pay-URL update and its answer, the callback signal, the channel's
    // answer (how many more depends on how far the workflow has written when the history is read).
    expect(rest.length).toBeGreaterThanOrEqual(6);
    for (const f of rest) {
      expect({ at: f.path, encoding: utf8(f.payload.metadata!.encoding) }).toEqual({
        at: f.path,
        encoding: ENCODING_ENCRYPTED,
      });
    }
    // The search attributes hold the order id in clear on purpose, and nothing else of the payment's data.
    expect(searchAttributes.map((f) => utf8(f.payload.data)).join(' ')).not.toMatch(/73519|735\.19|teapot|sp_/);

    // Nothing readable anywhere else: the whole history, search attributes taken out, as text and as bytes.
    const clear = JSON.stringify(history, (key, value: unknown) => {
      if (key === 'searchAttributes') return undefined;
      return value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value;
    });
    for (const secret of [
      orderId,
      channelPaymentId,
      description,
      '73519',
      '735.19',
      '"paidAt"',
      '"channelPaymentId"',
      '"amount"',
      '"state":"SUCCESS"',
      '"currency":"CNY"',
    ]) {
      const at = clear.indexOf(secret);
      expect({ secret, found: at >= 0 ? clear.slice(Math.max(0, at - 150), at + 60) : false }).toEqual({
        secret,
        found: false,
      });
    }

    // With the codec (the service's), every encrypted payload decodes, to what the API and the channel sent.
    const codec = s.temporal.options.dataConverter.payloadCodecs![0]!;
    const decoded = await codec.decode(rest.map((f) => f.payload as Payload));
    const values = decoded.map((p) => defaultPayloadConverter.fromPayload<unknown>(p));
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
    // The start's summary (shown in the Web UI's list) is a payload too, encrypted like the rest.
    expect(values).toContain(`Payment 735.19 CNY for order ${orderId} via sandboxpay`);
    const input = values.find((v) => isObject(v) && v.paymentId === paymentId && 'currency' in v);
    expect(input).toMatchObject({ paymentId, orderId, amount: AMOUNT, currency: 'CNY', description });
    const callback = values.find((v) => isObject(v) && v.channelPaymentId === channelPaymentId && 'eventId' in v);
    expect(callback).toMatchObject({ channelPaymentId, amount: AMOUNT, state: 'SUCCESS' });
  });
});
