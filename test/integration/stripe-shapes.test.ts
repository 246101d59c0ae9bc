// Our Stripe requests, checked against Stripe's own OpenAPI spec by stripe-mock (stateless: it validates parameters
// and answers fixtures). localstripe accepts what it models and the wrapper fills in; stripe-mock says whether real
// Stripe would take each request, at the API version we pin (its spec is 2026-08-26.dahlia; -strict-version-check
// refuses any other Stripe-Version).
import { type ChildProcess, spawn } from 'node:child_process';
import pino from 'pino';
import { StripeChannel } from '../../channels/stripe';
import { freePort, waitFor } from '../../scripts/stack/net';
import { readToolchain } from '../../scripts/stack/toolchain';

describe('Stripe request shapes (stripe-mock)', () => {
  let mock: ChildProcess;
  let url: string;
  const requests: string[] = [];
  let channel: StripeChannel;

  beforeAll(async () => {
    const binary = readToolchain().stripeMock;
    if (!binary) throw new Error('stripe-mock is not installed: run node scripts/bootstrap.mjs test');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    mock = spawn(binary, ['-http-addr', `127.0.0.1:${port}`, '-strict-version-check'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Its log: "Request: METHOD PATH", then the status of each answer.
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        const m = /Request: (\w+ \S+)|status=(\d+)/.exec(line);
        if (m?.[1]) requests.push(m[1]);
        else if (m?.[2]) requests[requests.length - 1] += ` -> ${m[2]}`;
      }
    };
    mock.stdout!.on('data', onLine);
    mock.stderr!.on('data', onLine);
    await waitFor('stripe-mock', async () => {
      const res = await fetch(`${url}/v1/balance`, { headers: { authorization: 'Bearer sk_test_123' } });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    });
    requests.length = 0;
    channel = new StripeChannel(
      { apiUrl: url, secretKey: 'sk_test_123', webhookSecret: 'whsec_123', timeoutMs: 5000 },
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => {
    mock?.kill('SIGTERM');
  });

  it('every call the adapter makes is a valid Stripe request at the pinned API version', async () => {
    const ref = { paymentId: '6f1c2c59-0a3f-4b8e-9d57-0d2b1e7a9c11', channelPaymentId: 'pi_123' };
    expect(
      await channel.create({ ...ref, amount: 2599, currency: 'USD', description: 'order 1', notifyUrl: 'unused' }),
    ).toMatchObject({ outcome: 'created' });
    await channel.query(ref);
    await channel.query({ paymentId: ref.paymentId });
    await channel.close(ref);
    expect(await channel.refund({ ...ref, refundKey: `${ref.paymentId}:refund`, amount: 100 })).toMatchObject({
      outcome: 'accepted',
    });
    await channel.queryRefund({ channelPaymentId: 'pi_123', refundId: 're_123' });
    await channel.statement({ from: new Date(Date.now() - 3_600_000), to: new Date() });
    const expected = [
      'POST /v1/payment_intents -> 200',
      'GET /v1/payment_intents/pi_123 -> 200',
      'GET /v1/payment_intents/search -> 200',
      'POST /v1/payment_intents/pi_123/cancel -> 200',
      'GET /v1/payment_intents/pi_123 -> 200', // refund: the intent's currency first
      'POST /v1/refunds -> 200',
      'GET /v1/refunds/re_123 -> 200',
      'GET /v1/charges -> 200',
    ];
    // The readiness probe's own GET /v1/balance may be logged after the reset above: the adapter never asks for it.
    // stripe-mock logs after it answers: wait until every request (and its status) is in the log.
    const ours = () => requests.filter((r) => !r.startsWith('GET /v1/balance '));
    await waitFor('every request to be logged', async () => {
      if (ours().length < expected.length || !ours().at(-1)?.includes('->')) throw new Error('not yet');
    });
    expect(ours()).toEqual(expected);
  });

  it('would catch a request Stripe refuses (the check is not vacuous)', async () => {
    const res = await fetch(`${url}/v1/payment_intents`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_123', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'amount=100&currency=usd&payment_method_typez[]=card',
    });
    expect(res.status).toBe(400);
  });
});
