// The Alipay adapter against our Alipay emulator, over real HTTP: create, query, close (and its race with the
// buyer), refund and its query, the statement from the zipped GBK bill, replies whose signature fails, and
// notifications genuine, forged and mistaken. Then the vendor's judgement of the emulator: the official alipay-sdk as
// a client of each method with validateSign: true, and its checkNotifySignV2 on the notifications the emulator sends.
import { createServer, type Server } from 'node:http';
import { createSign, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { AlipaySdk } from 'alipay-sdk';
import pino from 'pino';
import type { AlipayChannel } from '../../channels/alipay/adapter';
import { toBeijingTime, toOutTradeNo } from '../../channels/alipay/fields';
import { createChannels } from '../../channels';
import { ChannelUnavailableError } from '../../channels/types';
import { loadConfig } from '../../config';
import { signContent, signNotification } from '../../sandbox/alipay/signing';
import { alipayBuyer, type RunningAlipayEmulator, startAlipayEmulator } from '../support/alipay';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SUBJECT = 'order o-1: 100% tea + cup'; // "%", "+" and spaces: V1 of the SDK's notify check cannot read it

/** A merchant notify endpoint that keeps what Alipay posts and answers as the test says. */
class NotifySink {
  readonly received: { raw: string; params: Record<string, string> }[] = [];
  answer = { status: 200, body: 'success' };
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        this.received.push({ raw, params: Object.fromEntries(new URLSearchParams(raw)) });
        res.writeHead(this.answer.status, { 'content-type': 'text/plain' }).end(this.answer.body);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/callbacks/alipay`;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }

  for(outTradeNo: string) {
    return this.received.filter((n) => n.params.out_trade_no === outTradeNo);
  }
}

async function eventually<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => String(k.export({ type, format: 'pem' }));

let running: RunningAlipayEmulator;
let channel: AlipayChannel;
const sink = new NotifySink();

beforeAll(async () => {
  await sink.start();
  running = await startAlipayEmulator({ logger, refundDelayMs: 100 });
  const config = loadConfig({ ...running.env, ALIPAY_TIMEOUT: '1500ms', PAYMENT_EXPIRY: '30m' });
  channel = createChannels(config, logger).alipay as AlipayChannel;
});

afterAll(async () => {
  await running?.stop();
  await sink.stop();
});

afterEach(() => {
  running.emulator.setFaults({ closeRacePayRate: 0, queryErrorRate: 0, queryTimeoutRate: 0 });
  sink.answer = { status: 200, body: 'success' };
});

/** A payment precreated through our adapter: its id, out_trade_no and the emulator's trade_no. */
async function precreate(amount = 8800, description = SUBJECT) {
  const paymentId = randomUUID();
  const created = await channel.create({ paymentId, amount, currency: 'CNY', description, notifyUrl: sink.url });
  if (created.outcome !== 'created') throw new Error(`not created: ${created.reason}`);
  if (created.handoff.kind !== 'qr_code') throw new Error('no QR code');
  const tradeNo = created.handoff.codeUrl.split('/pay/')[1]!;
  return { paymentId, outTradeNo: created.channelPaymentId, tradeNo, created };
}

const platformPrivateKey = () => readFileSync(running.env.ALIPAY_EMULATOR_PRIVATE_KEY_FILE!, 'utf8');

describe('the Alipay adapter against the emulator', () => {
  it('precreates a QR code (idempotently), finds no trade until the scan, then follows the buyer to paid', async () => {
    const p = await precreate();
    expect(p.outTradeNo).toBe(toOutTradeNo(p.paymentId));
    expect(p.created.handoff).toEqual({
      kind: 'qr_code',
      codeUrl: `${running.url}/pay/${p.tradeNo}`,
      pageUrl: `${running.url}/pay/${p.tradeNo}`,
    });
    expect(p.tradeNo).toMatch(/^\d{28}$/);
    const again = await channel.create({
      paymentId: p.paymentId,
      amount: 8800,
      currency: 'CNY',
      description: SUBJECT,
      notifyUrl: sink.url,
    });
    expect(again).toEqual(p.created);

    // Alipay creates the trade when the buyer scans the code: before that, it does not exist.
    expect(await channel.query({ paymentId: p.paymentId, channelPaymentId: p.outTradeNo })).toEqual({
      state: 'NOT_FOUND',
      channelStatus: 'ACQ.TRADE_NOT_EXIST',
    });
    expect(await alipayBuyer(running.url, p.tradeNo, 'scan')).toBe(200);
    expect(await channel.query({ paymentId: p.paymentId })).toEqual({
      state: 'PENDING',
      channelStatus: 'WAIT_BUYER_PAY',
      channelPaymentId: p.outTradeNo,
      amount: 8800,
      currency: 'CNY',
    });

    expect(await alipayBuyer(running.url, p.tradeNo, 'pay')).toBe(200);
    const paid = await channel.query({ paymentId: p.paymentId, channelPaymentId: p.outTradeNo });
    expect(paid).toMatchObject({ state: 'SUCCESS', channelStatus: 'TRADE_SUCCESS', amount: 8800, currency: 'CNY' });
    expect(Date.now() - Date.parse(paid.paidAt!)).toBeLessThan(60_000);

    // The notification arrives, form-encoded, and our verifier takes it.
    const [notification] = await eventually(
      'the notification',
      () => sink.for(p.outTradeNo).length > 0 && sink.for(p.outTradeNo),
    );
    expect(notification!.params).toMatchObject({
      notify_type: 'trade_status_sync',
      trade_status: 'TRADE_SUCCESS',
      trade_no: p.tradeNo,
      out_trade_no: p.outTradeNo,
      total_amount: '88.00',
      receipt_amount: '88.00',
      subject: SUBJECT,
      sign_type: 'RSA2',
      charset: 'utf-8',
      version: '1.0',
      app_id: running.env.ALIPAY_APP_ID,
      seller_id: running.env.ALIPAY_SELLER_ID,
    });
    expect(notification!.raw).toContain('100%25+tea'); // encoded as a form: "%" escaped, spaces as "+"
    const verified = await channel.verifyCallback(Buffer.from(notification!.raw), () => undefined, Date.now());
    expect(verified).toMatchObject({
      ok: true,
      callback: {
        eventId: notification!.params.notify_id,
        eventType: 'trade_status_sync:TRADE_SUCCESS',
        channelPaymentId: p.outTradeNo,
        paymentId: p.paymentId,
        merchantId: running.env.ALIPAY_SELLER_ID,
        state: 'SUCCESS',
        channelStatus: 'TRADE_SUCCESS',
        amount: 8800,
        currency: 'CNY',
        paidAt: paid.paidAt,
      },
    });
    // Accepted (the sink answered `success`): delivered once.
    const trade = running.emulator.wallet.find(p.tradeNo)!;
    await eventually('the delivery to be recorded', () => trade.deliveries.length > 0);
    expect(trade.deliveries).toEqual([expect.objectContaining({ attempt: 1, httpStatus: 200, accepted: true })]);
  });

  it('retries a notification until the answer is exactly `success`', async () => {
    sink.answer = { status: 200, body: 'SUCCESS ' };
    const p = await precreate();
    await alipayBuyer(running.url, p.tradeNo, 'pay');
    await eventually('two refused deliveries', () => sink.for(p.outTradeNo).length >= 2);
    sink.answer = { status: 200, body: 'success' };
    const trade = running.emulator.wallet.find(p.tradeNo)!;
    await eventually('an accepted delivery', () => trade.deliveries.some((d) => d.accepted), 15_000);
    const ids = new Set(sink.for(p.outTradeNo).map((n) => n.params.notify_id));
    expect(ids.size).toBe(1); // every attempt carries the same notify_id, signed afresh
    expect(trade.deliveries[0]).toMatchObject({ attempt: 1, httpStatus: 200, accepted: false });
  });

  it('refuses what Alipay would not take: other currencies, amounts out of range, ids that are not ours', async () => {
    const base = { paymentId: randomUUID(), amount: 100, currency: 'CNY', notifyUrl: sink.url };
    expect(await channel.create({ ...base, currency: 'USD' })).toEqual({
      outcome: 'rejected',
      reason: 'Alipay (domestic) takes CNY only, not USD',
    });
    expect(await channel.create({ ...base, amount: 0 })).toMatchObject({ outcome: 'rejected' });
    expect(await channel.create({ ...base, amount: 100_000_000_01 })).toMatchObject({ outcome: 'rejected' });
    expect(await channel.create({ ...base, paymentId: 'not-a-uuid' })).toMatchObject({ outcome: 'rejected' });
    // The same out_trade_no with another amount: Alipay's "交易信息被篡改".
    const p = await precreate(500);
    expect(await channel.create({ ...base, paymentId: p.paymentId, amount: 600 })).toEqual({
      outcome: 'rejected',
      reason: 'ACQ.CONTEXT_INCONSISTENT: 交易信息被篡改',
    });
  });

  it('closes: nothing to close before the scan; a waiting trade closes; a paid one stays paid (ACQ.TRADE_STATUS_ERROR, the query decides)', async () => {
    const unscanned = await precreate();
    expect(await channel.close({ paymentId: unscanned.paymentId, channelPaymentId: unscanned.outTradeNo })).toEqual({
      state: 'NOT_FOUND',
      channelStatus: 'ACQ.TRADE_NOT_EXIST',
    });
    expect(await alipayBuyer(running.url, unscanned.tradeNo, 'pay')).toBe(409); // its code died with the close

    const waiting = await precreate();
    await alipayBuyer(running.url, waiting.tradeNo, 'scan');
    // Alipay says no more than its trade_status: the reason a buyer is told is that word's meaning.
    expect(await channel.close({ paymentId: waiting.paymentId, channelPaymentId: waiting.outTradeNo })).toEqual({
      state: 'CLOSED',
      channelStatus: 'TRADE_CLOSED',
      channelPaymentId: waiting.outTradeNo,
      reason: 'the trade was closed before it was paid',
    });
    expect(await channel.query({ paymentId: waiting.paymentId })).toMatchObject({
      state: 'CLOSED',
      channelStatus: 'TRADE_CLOSED',
      reason: 'the trade was closed before it was paid',
    });
    // Closing it again: no longer waiting for the buyer, so the query answers.
    expect(await channel.close({ paymentId: waiting.paymentId })).toMatchObject({ state: 'CLOSED' });

    const paid = await precreate();
    await alipayBuyer(running.url, paid.tradeNo, 'pay');
    expect(await channel.close({ paymentId: paid.paymentId, channelPaymentId: paid.outTradeNo })).toMatchObject({
      state: 'SUCCESS',
      channelStatus: 'TRADE_SUCCESS',
      amount: 8800,
    });
  });

  it('loses the close race to a buyer who pays at that moment: the close answers paid', async () => {
    const p = await precreate();
    await alipayBuyer(running.url, p.tradeNo, 'scan');
    running.emulator.setFaults({ closeRacePayRate: 1 });
    expect(await channel.close({ paymentId: p.paymentId, channelPaymentId: p.outTradeNo })).toMatchObject({
      state: 'SUCCESS',
      channelStatus: 'TRADE_SUCCESS',
    });
    expect(running.emulator.wallet.find(p.tradeNo)!.status).toBe('SUCCESS');
    // A buyer who scans and pays at the very moment we close a code nobody had scanned yet wins too.
    const unscanned = await precreate();
    expect(
      await channel.close({ paymentId: unscanned.paymentId, channelPaymentId: unscanned.outTradeNo }),
    ).toMatchObject({
      state: 'SUCCESS',
      channelStatus: 'TRADE_SUCCESS',
    });
  });

  it('refunds (idempotent on out_request_no), confirms by refund query, and a full refund closes the trade, paid', async () => {
    const p = await precreate(8800);
    await alipayBuyer(running.url, p.tradeNo, 'pay');
    const first = await channel.refund({
      paymentId: p.paymentId,
      channelPaymentId: p.outTradeNo,
      refundKey: `refund-${p.paymentId}-1`,
      amount: 3000,
    });
    expect(first).toEqual({ outcome: 'accepted', refundId: `refund-${p.paymentId}-1`, state: 'SUCCESS' });
    // The same request again moves no money (fund_change N): accepted, and the refund query confirms it.
    const repeat = await channel.refund({
      paymentId: p.paymentId,
      channelPaymentId: p.outTradeNo,
      refundKey: `refund-${p.paymentId}-1`,
      amount: 3000,
    });
    expect(repeat).toEqual({
      outcome: 'accepted',
      refundId: first.outcome === 'accepted' ? first.refundId : '',
      state: 'PROCESSING',
    });
    expect(await channel.queryRefund({ channelPaymentId: p.outTradeNo, refundId: `refund-${p.paymentId}-1` })).toBe(
      'SUCCESS',
    );
    expect(await channel.queryRefund({ channelPaymentId: p.outTradeNo, refundId: 'never-asked' })).toBe('NOT_FOUND');
    expect(await channel.queryRefund({ channelPaymentId: toOutTradeNo(randomUUID()), refundId: 'x' })).toBe(
      'NOT_FOUND',
    );

    const tooMuch = await channel.refund({
      paymentId: p.paymentId,
      channelPaymentId: p.outTradeNo,
      refundKey: 'refund-too-much',
      amount: 6000,
    });
    expect(tooMuch).toEqual({ outcome: 'rejected', reason: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL: 退款金额超限' });

    const rest = await channel.refund({
      paymentId: p.paymentId,
      channelPaymentId: p.outTradeNo,
      refundKey: `refund-${p.paymentId}-2`,
      amount: 5800,
    });
    expect(rest).toMatchObject({ outcome: 'accepted', state: 'SUCCESS' });
    // Refunded in full, Alipay shows the trade TRADE_CLOSED; it was paid, and the adapter says so.
    expect(await channel.query({ paymentId: p.paymentId })).toMatchObject({
      state: 'SUCCESS',
      channelStatus: 'TRADE_CLOSED',
      amount: 8800,
    });

    // Its refund notices: genuine, about money that moved back; recorded and acknowledged, never "closed unpaid".
    const notices = await eventually('two refund notices', () => {
      const n = sink.for(p.outTradeNo).filter((x) => x.params.refund_fee);
      return n.length >= 2 && n;
    });
    const closedNotice = notices.find((n) => n.params.trade_status === 'TRADE_CLOSED')!;
    expect(closedNotice.params).toMatchObject({ refund_fee: '88.00', out_biz_no: `refund-${p.paymentId}-2` });
    expect(await channel.verifyCallback(Buffer.from(closedNotice.raw), () => undefined, Date.now())).toMatchObject({
      ok: true,
      ignored: 'refund_notice:TRADE_CLOSED',
      eventId: closedNotice.params.notify_id,
      paymentId: p.paymentId,
    });
    const refunds = running.emulator.wallet.find(p.tradeNo)!.refunds;
    expect(refunds.map((r) => [r.refundKey, r.amount, r.status])).toEqual([
      [`refund-${p.paymentId}-1`, 3000, 'SUCCESS'],
      [`refund-${p.paymentId}-2`, 5800, 'SUCCESS'],
    ]);
  });

  it('cannot refund a trade nobody paid', async () => {
    const p = await precreate();
    await alipayBuyer(running.url, p.tradeNo, 'scan');
    expect(
      await channel.refund({ paymentId: p.paymentId, channelPaymentId: p.outTradeNo, refundKey: 'r-1', amount: 100 }),
    ).toEqual({ outcome: 'rejected', reason: 'ACQ.TRADE_STATUS_ERROR: 交易状态不合法' });
  });

  it('reads the statement from the zipped GBK bill: paid payments in the range, with what was refunded', async () => {
    const from = new Date(Date.now() - 60_000);
    const a = await precreate(1234);
    const b = await precreate(500, 'order, with a comma and "quotes" 中文');
    const unpaid = await precreate(700);
    await alipayBuyer(running.url, a.tradeNo, 'pay');
    await alipayBuyer(running.url, b.tradeNo, 'pay');
    await alipayBuyer(running.url, unpaid.tradeNo, 'scan');
    await channel.refund({ paymentId: b.paymentId, channelPaymentId: b.outTradeNo, refundKey: 'rb-1', amount: 200 });
    const to = new Date(Date.now() + 1000);

    const entries = await channel.statement({ from, to });
    const mine = entries.filter((e) => [a, b, unpaid].some((p) => p.paymentId === e.paymentId));
    expect(mine.sort((x, y) => x.amount - y.amount)).toEqual([
      expect.objectContaining({
        paymentId: b.paymentId,
        channelPaymentId: b.outTradeNo,
        amount: 500,
        currency: 'CNY',
        refundedAmount: 200,
      }),
      expect.objectContaining({
        paymentId: a.paymentId,
        channelPaymentId: a.outTradeNo,
        amount: 1234,
        currency: 'CNY',
        refundedAmount: 0,
      }),
    ]);
    const paidAt = Date.parse(mine[0]!.paidAt);
    expect(paidAt).toBeGreaterThanOrEqual(from.getTime() - 1000); // Alipay's times are to the second
    // Days Alipay has no bill for yet (tomorrow) are skipped, not failed: the next run's lookback covers them.
    const ahead = await channel.statement({ from, to: new Date(Date.now() + 2 * 86_400_000) });
    expect(ahead.map((e) => e.paymentId)).toEqual(expect.arrayContaining([a.paymentId, b.paymentId]));
    // A range that ends before they were paid holds none of them.
    expect(
      (await channel.statement({ from: new Date(from.getTime() - 3600_000), to: from })).map((e) => e.paymentId),
    ).not.toContain(a.paymentId);
  });

  it('treats query faults as retryable: the system error, and a query that hangs past the timeout', async () => {
    const p = await precreate();
    running.emulator.setFaults({ queryErrorRate: 1 });
    await expect(channel.query({ paymentId: p.paymentId })).rejects.toThrow(ChannelUnavailableError);
    await expect(channel.query({ paymentId: p.paymentId })).rejects.toThrow(/20000.*ACQ.SYSTEM_ERROR/);
    running.emulator.setFaults({ queryErrorRate: 0, queryTimeoutRate: 1, queryTimeoutMs: 3000 });
    const started = Date.now();
    await expect(channel.query({ paymentId: p.paymentId })).rejects.toThrow(ChannelUnavailableError);
    expect(Date.now() - started).toBeLessThan(2900);
  });

  it('does not trust a reply whose signature fails: tampered on the way, or signed by another key', async () => {
    const p = await precreate();
    await alipayBuyer(running.url, p.tradeNo, 'scan');
    // A man in the middle who turns "waiting" into "paid".
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const upstream = await fetch(`${running.url}${req.url}`, {
        method: 'POST',
        headers: { 'content-type': String(req.headers['content-type']) },
        body: Buffer.concat(chunks),
      });
      const body = (await upstream.text()).replace('WAIT_BUYER_PAY', 'TRADE_SUCCESS');
      res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' }).end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as AddressInfo).port;
      const tampered = createChannels(
        loadConfig({ ...running.env, ALIPAY_GATEWAY: `http://127.0.0.1:${port}/gateway.do` }),
        logger,
      ).alipay!;
      await expect(tampered.query({ paymentId: p.paymentId })).rejects.toThrow(ChannelUnavailableError);
      await expect(tampered.query({ paymentId: p.paymentId })).rejects.toThrow(/验签失败/);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const wrongKey = createChannels(
      loadConfig({ ...running.env, ALIPAY_PUBLIC_KEY_FILE: '', ALIPAY_PUBLIC_KEY: pem(other.publicKey, 'spki') }),
      logger,
    ).alipay!;
    await expect(wrongKey.query({ paymentId: p.paymentId })).rejects.toThrow(ChannelUnavailableError);
    // The real answer, through the real gateway: still waiting.
    expect(await channel.query({ paymentId: p.paymentId })).toMatchObject({ state: 'PENDING' });
  });

  it('treats an unreachable gateway as retryable', async () => {
    const down = createChannels(
      loadConfig({ ...running.env, ALIPAY_GATEWAY: 'http://127.0.0.1:1/gateway.do', ALIPAY_TIMEOUT: '1s' }),
      logger,
    ).alipay!;
    await expect(down.query({ paymentId: randomUUID() })).rejects.toThrow(ChannelUnavailableError);
  });
});

describe('the Alipay adapter while a refund is still going through', () => {
  let slow: RunningAlipayEmulator;
  let slowChannel: AlipayChannel;
  beforeAll(async () => {
    // Refunds take 1.5 s; the gateway answers after 100 ms: fund_change "N", to be confirmed by the refund query.
    slow = await startAlipayEmulator({ logger, refundDelayMs: 1500, refundAnswerWaitMs: 100 });
    slowChannel = createChannels(loadConfig(slow.env), logger).alipay as AlipayChannel;
  });
  afterAll(() => slow?.stop());

  it('answers PROCESSING, and the refund query follows it to SUCCESS', async () => {
    const paymentId = randomUUID();
    const created = await slowChannel.create({ paymentId, amount: 990, currency: 'CNY', notifyUrl: sink.url });
    if (created.outcome !== 'created' || created.handoff.kind !== 'qr_code') throw new Error('not created');
    await alipayBuyer(slow.url, created.handoff.codeUrl.split('/pay/')[1]!, 'pay');
    const ref = { channelPaymentId: created.channelPaymentId, refundId: `refund-${paymentId}` };
    expect(
      await slowChannel.refund({
        paymentId,
        channelPaymentId: ref.channelPaymentId,
        refundKey: ref.refundId,
        amount: 990,
      }),
    ).toEqual({ outcome: 'accepted', refundId: ref.refundId, state: 'PROCESSING' });
    expect(await slowChannel.queryRefund(ref)).toBe('PROCESSING');
    await eventually(
      'the refund to go through',
      () => slow.emulator.wallet.findRefund(ref.refundId)?.refund.status === 'SUCCESS',
    );
    expect(await slowChannel.queryRefund(ref)).toBe('SUCCESS');
  });
});

describe("the Alipay adapter's verdict on notifications", () => {
  const fields = (paymentId: string, overrides: Record<string, string> = {}) => ({
    notify_id: `nid_${randomUUID().replace(/-/g, '')}`,
    notify_time: toBeijingTime(Date.now()),
    notify_type: 'trade_status_sync',
    app_id: running.env.ALIPAY_APP_ID!,
    seller_id: running.env.ALIPAY_SELLER_ID!,
    trade_no: '2026112722001000000000000001',
    out_trade_no: toOutTradeNo(paymentId),
    trade_status: 'TRADE_SUCCESS',
    total_amount: '88.00',
    gmt_payment: '2026-11-27 20:00:01',
    subject: SUBJECT,
    charset: 'utf-8',
    version: '1.0',
    ...overrides,
  });
  const form = (params: Record<string, string>) => Buffer.from(new URLSearchParams(params).toString());
  const verify = (params: Record<string, string>) => channel.verifyCallback(form(params), () => undefined, Date.now());
  const signed = (params: Record<string, string>, key: string = platformPrivateKey()) => signNotification(params, key);

  it('accepts a genuine one, reading Beijing times and yuan exactly', async () => {
    const paymentId = randomUUID();
    expect(await verify(signed(fields(paymentId)))).toMatchObject({
      ok: true,
      callback: { paymentId, state: 'SUCCESS', amount: 8800, paidAt: '2026-11-27T12:00:01.000Z' },
    });
    expect(await verify(signed(fields(paymentId, { trade_status: 'TRADE_FINISHED' })))).toMatchObject({
      ok: true,
      callback: { state: 'SUCCESS' },
    });
    expect(await verify(signed(fields(paymentId, { trade_status: 'WAIT_BUYER_PAY' })))).toMatchObject({
      ok: true,
      callback: { state: 'PENDING' },
    });
    expect(await verify(signed(fields(paymentId, { trade_status: 'TRADE_CLOSED' })))).toMatchObject({
      ok: true,
      callback: { state: 'CLOSED', reason: 'the trade was closed before it was paid' },
    });
    // A word Alipay does not have (yet): pending, never a decision.
    expect(await verify(signed(fields(paymentId, { trade_status: 'TRADE_PENDING_REVIEW' })))).toMatchObject({
      ok: true,
      callback: { state: 'PENDING', channelStatus: 'TRADE_PENDING_REVIEW' },
    });
    // A partial refund's notice says TRADE_SUCCESS with refund fields: a refund notice, not a (new) payment.
    expect(
      await verify(
        signed(fields(paymentId, { refund_fee: '10.00', gmt_refund: '2026-11-27 21:00:00.123', out_biz_no: 'r1' })),
      ),
    ).toMatchObject({ ok: true, ignored: 'refund_notice:TRADE_SUCCESS' });
  });

  it('refuses forged, tampered and unsigned ones before reading them', async () => {
    const paymentId = randomUUID();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(await verify(signed(fields(paymentId), pem(other.privateKey, 'pkcs8')))).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(await verify({ ...signed(fields(paymentId, { total_amount: '0.01' })), total_amount: '88.00' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(await verify({ ...signed(fields(paymentId)), subject: 'order o-1: 100% tea' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    // Replays: signed long ago (beyond Alipay's 25 hours of retries), or "from the future".
    const stale = await verify(signed(fields(paymentId, { notify_time: toBeijingTime(Date.now() - 27 * 3600_000) })));
    expect(stale).toMatchObject({
      ok: false,
      reason: 'stale_timestamp',
      detail: expect.stringMatching(/^notify_time is 972\d\d s behind our clock/),
    });
    expect(
      await verify(signed(fields(paymentId, { notify_time: toBeijingTime(Date.now() - 24 * 3600_000) }))),
    ).toMatchObject({ ok: true });
    expect(await verify(signed(fields(paymentId, { notify_time: toBeijingTime(Date.now() + 600_000) })))).toMatchObject(
      {
        ok: false,
        reason: 'stale_timestamp',
      },
    );
    expect(await verify(signed(fields(paymentId, { notify_time: 'yesterday' })))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
    const { sign: _sign, ...unsigned } = signed(fields(paymentId));
    expect(await verify(unsigned)).toEqual({ ok: false, reason: 'missing_signature' });
    expect(await verify({ ...signed(fields(paymentId)), sign: 'not base64 at all!' })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(await verify({ ...signed(fields(paymentId)), sign_type: 'RSA' })).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
    expect((await channel.verifyCallback(Buffer.from('{"not":"a form"}'), () => undefined, Date.now())).ok).toBe(false);
  });

  it('refuses genuine ones for another app or another seller, and ones it cannot read', async () => {
    const paymentId = randomUUID();
    expect(await verify(signed(fields(paymentId, { app_id: '2021000000000999' })))).toEqual({
      ok: false,
      reason: 'wrong_merchant',
    });
    expect(await verify(signed(fields(paymentId, { seller_id: '2088999999999999' })))).toEqual({
      ok: false,
      reason: 'wrong_merchant',
    });
    expect(await verify(signed(fields(paymentId, { total_amount: '88.001' })))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
    expect(await verify(signed(fields(paymentId, { total_amount: '-1.00' })))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
    expect(await verify(signed(fields(paymentId, { out_trade_no: 'HZ0120131127001' })))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
    expect(await verify(signed(fields(paymentId, { subject: 'nul \u0000 inside' })))).toMatchObject({
      ok: false,
      reason: 'malformed_body',
    });
  });

  it("answers in Alipay's words", () => {
    expect(channel.answerCallback({ ok: true, duplicate: false, outcome: 'accepted' })).toEqual({
      status: 200,
      contentType: 'text/plain',
      body: 'success',
    });
    expect(channel.answerCallback({ ok: false, status: 401, code: 'unauthorized', message: 'x' })).toEqual({
      status: 401,
      contentType: 'text/plain',
      body: 'fail',
    });
    expect(channel.answerCallback({ ok: false, status: 503, code: 'unavailable', message: 'x' }).status).toBe(503);
  });
});

describe('the official alipay-sdk judges the emulator', () => {
  const sdk = (privateKey = readFileSync(running.env.ALIPAY_APP_PRIVATE_KEY_FILE!, 'utf8')) =>
    new AlipaySdk({
      appId: running.env.ALIPAY_APP_ID!,
      privateKey,
      keyType: 'PKCS8',
      alipayPublicKey: readFileSync(running.env.ALIPAY_PUBLIC_KEY_FILE!, 'utf8'),
      gateway: running.env.ALIPAY_GATEWAY!,
      timeout: 3000,
    });
  const exec = (method: string, bizContent: Record<string, unknown>, params: Record<string, string> = {}) =>
    sdk().exec(method, { bizContent, ...params }, { validateSign: true });

  it('as a client of every method, checking each signed reply (camelCase, as the SDK hands them out)', async () => {
    const outTradeNo = `vendor_${randomUUID().replace(/-/g, '')}`;
    const created = await exec(
      'alipay.trade.precreate',
      { outTradeNo, totalAmount: '66.60', subject: SUBJECT, timeoutExpress: '10m' },
      { notifyUrl: sink.url },
    );
    expect(created).toMatchObject({
      code: '10000',
      msg: 'Success',
      outTradeNo,
      qrCode: expect.stringMatching(/\/pay\/\d{28}$/),
    });
    const tradeNo = String(created.qrCode).split('/pay/')[1]!;
    expect(await exec('alipay.trade.query', { outTradeNo })).toMatchObject({
      code: '40004',
      subCode: 'ACQ.TRADE_NOT_EXIST',
    });
    await alipayBuyer(running.url, tradeNo, 'pay');
    expect(await exec('alipay.trade.query', { tradeNo })).toMatchObject({
      code: '10000',
      tradeNo,
      outTradeNo,
      tradeStatus: 'TRADE_SUCCESS',
      totalAmount: '66.60',
      sendPayDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
    });
    expect(await exec('alipay.trade.close', { outTradeNo })).toMatchObject({
      code: '40004',
      subCode: 'ACQ.TRADE_STATUS_ERROR',
    });
    expect(
      await exec('alipay.trade.refund', { outTradeNo, refundAmount: '6.66', outRequestNo: 'vendor-r1' }),
    ).toMatchObject({
      code: '10000',
      fundChange: 'Y',
      refundFee: '6.66',
    });
    expect(
      await exec('alipay.trade.fastpay.refund.query', {
        outTradeNo,
        outRequestNo: 'vendor-r1',
        queryOptions: ['gmt_refund_pay'],
      }),
    ).toMatchObject({
      code: '10000',
      outRequestNo: 'vendor-r1',
      refundAmount: '6.66',
      refundStatus: 'REFUND_SUCCESS',
      gmtRefundPay: expect.any(String),
    });
    const bill = await exec('alipay.data.dataservice.bill.downloadurl.query', {
      billType: 'trade',
      billDate: new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10),
    });
    expect(bill).toMatchObject({ code: '10000', billDownloadUrl: expect.stringContaining('/bill/download?token=') });
    const zip = Buffer.from(await (await fetch(String(bill.billDownloadUrl))).arrayBuffer());
    expect(zip.readUInt32LE(0)).toBe(0x04034b50); // a zip archive
    expect(
      await exec('alipay.data.dataservice.bill.downloadurl.query', { billType: 'trade', billDate: '2999-01-01' }),
    ).toMatchObject({
      code: '40004',
      subCode: 'isp.bill_not_exist',
    });

    // A waiting trade closes.
    const second = `vendor_${randomUUID().replace(/-/g, '')}`;
    const code = await exec('alipay.trade.precreate', { outTradeNo: second, totalAmount: 1, subject: 'x' });
    await alipayBuyer(running.url, String(code.qrCode).split('/pay/')[1]!, 'scan');
    expect(await exec('alipay.trade.close', { outTradeNo: second })).toMatchObject({
      code: '10000',
      outTradeNo: second,
    });
  });

  it('gets the real refusals, signed: bad amounts, and a request signed with another key', async () => {
    for (const totalAmount of ['88.001', '-1', '0', 'abc', '100000000.01']) {
      expect(
        await exec('alipay.trade.precreate', {
          outTradeNo: `bad_${randomUUID().slice(0, 8)}`,
          totalAmount,
          subject: 'x',
        }),
      ).toMatchObject({ code: '40004', subCode: 'ACQ.INVALID_PARAMETER' });
    }
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await sdk(pem(other.privateKey, 'pkcs8')).exec(
      'alipay.trade.query',
      { bizContent: { outTradeNo: 'x' } },
      { validateSign: true },
    );
    expect(forged).toMatchObject({ code: '40002', msg: 'Invalid Arguments', subCode: 'isv.invalid-signature' });

    // By hand, correctly signed: a timestamp not in Alipay's form, and an app the gateway does not know.
    const appKey = readFileSync(running.env.ALIPAY_APP_PRIVATE_KEY_FILE!, 'utf8');
    const request = (overrides: Record<string, string>) => {
      const params: Record<string, string> = {
        app_id: running.env.ALIPAY_APP_ID!,
        method: 'alipay.trade.query',
        charset: 'utf-8',
        sign_type: 'RSA2',
        timestamp: '2026-11-27 20:00:00',
        version: '1.0',
        biz_content: '{"out_trade_no":"x"}',
        ...overrides,
      };
      const sign = createSign('RSA-SHA256')
        .update(signContent(params, ['sign']))
        .sign(appKey, 'base64');
      return fetch(running.env.ALIPAY_GATEWAY!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...params, sign }).toString(),
      }).then((r) => r.json() as Promise<Record<string, Record<string, string>>>);
    };
    expect((await request({ timestamp: '2026-11-27T20:00:00Z' })).alipay_trade_query_response).toMatchObject({
      code: '40002',
      sub_code: 'isv.invalid-timestamp',
    });
    expect((await request({ app_id: '2021000000000999' })).alipay_trade_query_response).toMatchObject({
      code: '40002',
      sub_code: 'isv.invalid-app-id',
    });
    expect((await request({})).alipay_trade_query_response).toMatchObject({
      code: '40004',
      sub_code: 'ACQ.TRADE_NOT_EXIST',
    });
    expect(await request({ method: 'alipay.trade.nonexistent' })).toEqual({
      error_response: expect.objectContaining({ code: '40002', sub_code: 'isv.invalid-method' }),
    });
  });

  it('checkNotifySignV2 accepts the notifications the emulator sends, and refuses them tampered (V1 cannot read them)', async () => {
    const p = await precreate(4321);
    await alipayBuyer(running.url, p.tradeNo, 'pay');
    const [n] = await eventually('the notification', () => sink.for(p.outTradeNo).length > 0 && sink.for(p.outTradeNo));
    const params = n!.params;
    expect(params.fund_bill_list).toBe('[{"amount":"43.21","fundChannel":"ALIPAYACCOUNT"}]');
    expect(sdk().checkNotifySignV2(params)).toBe(true);
    expect(sdk().checkNotifySignV2({ ...params, total_amount: '0.01' })).toBe(false);
    expect(sdk().checkNotifySignV2({ ...params, seller_id: '2088999999999999' })).toBe(false);
    expect(() => sdk().checkNotifySign(params)).toThrow(URIError); // why we use V2: V1 decodes "100% tea" again
  });
});
