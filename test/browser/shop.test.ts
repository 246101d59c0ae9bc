// The article's client flow in a real browser (Debian's Chromium driven by playwright-core), against the whole
// stack with every channel on its double, read as a buyer reads it: pay and get a receipt; be declined, told why, try
// again and pay; cancel; let the time run out and buy again; lose the push stream and get it back (the page polls
// meanwhile, then returns to push and stops polling); the QR code of WeChat Pay or Alipay; Stripe's test checkout.
// The buyer is never told how the page follows the payment. Screenshots go to test-results/screenshots/.
import { mkdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { type Browser, chromium, type Page } from 'playwright-core';
import { SandboxPayChannel } from '../../channels/sandboxpay';
import { createShopRouter } from '../../sandbox/shop';
import { readToolchain } from '../../scripts/stack/toolchain';
import { alipayDouble } from '../support/alipay';
import { Stack } from '../support/stack';
import { stripeChannelDouble } from '../support/stripe';
import { wechatPayDouble } from '../support/wechatpay-emulator';

const screenshots = join(__dirname, '..', '..', 'test-results', 'screenshots');
/** Short enough for the expiry path to run here; long enough for every other path to finish well before it. */
const EXPIRY_S = 40;
/** Words about how the page follows the payment, which a buyer must never read. */
const TRANSPORT_WORDS = /\b(push|poll\w*|stream|sse|eventsource|connect\w*)\b/i;

describe('the demo shop in a browser', () => {
  let s: Stack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    s = await Stack.start({
      env: { PAYMENT_QUERY_SCHEDULE: '2s,3s', PAYMENT_EXPIRY: `${EXPIRY_S}s` },
      channelDoubles: [
        wechatPayDouble({ callbackRetryScale: 0.01 }),
        alipayDouble(() => undefined, { callbackRetryScale: 0.01 }),
        stripeChannelDouble({}),
      ],
    });
    const executablePath = readToolchain().chromium;
    if (!executablePath) throw new Error('no Chromium: run the tests through npm test (bootstrap installs it)');
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });
  afterEach(() => {
    s.sandbox.setFaults({ callbackDropRate: 0, callbackDelayRate: 0, callbackDelayMinMs: 0, callbackDelayMaxMs: 0 });
  });

  const newPage = (height = 620) => browser.newPage({ viewport: { width: 760, height } });

  /** Shop -> the SandboxPay wallet (its page, not yet acted on). */
  async function toWallet(page: Page, sku: 'tea' | 'cup' = 'tea'): Promise<void> {
    await page.goto(`${s.ordersUrl}/shop`);
    await page.click(`button[data-sku="${sku}"]`);
    await page.waitForURL(/\/pay\/sp_/);
    await page.locator('#amount').waitFor();
  }

  /** Shop -> wallet -> (pay, or fail with a reason) -> back on the order page. */
  async function buy(page: Page, action: 'pay' | 'decline', reason = 'insufficient funds'): Promise<void> {
    await toWallet(page);
    await act(page, action, reason);
  }

  async function act(page: Page, action: 'pay' | 'decline', reason = 'insufficient funds'): Promise<void> {
    if (action === 'decline') {
      await page.click('details summary');
      await page.selectOption('#decline-reason', reason);
    }
    await page.click(`#${action}`);
    await page.waitForURL(/\/shop\/orders\//);
  }

  /** The wallet's return address: the order page, without paying. */
  async function leaveWalletUnpaid(page: Page): Promise<void> {
    await page.goto(new URL(page.url()).searchParams.get('return')!);
  }

  const paymentOf = (page: Page) => new URL(page.url()).searchParams.get('payment')!;
  const statusText = (page: Page) => page.locator('#status').textContent();
  const waitForStatus = (page: Page, text: string, timeout = 30_000) =>
    // A string expression: evaluated in the page (this file is compiled without the DOM's types).
    page.waitForFunction(`document.getElementById('status')?.textContent === ${JSON.stringify(text)}`, undefined, {
      timeout,
    });
  const live = (page: Page) => page.evaluate('window.live') as Promise<{ mode: string; polls: number }>;
  const visibleText = (page: Page) => page.evaluate('document.body.innerText') as Promise<string>;

  it('the buyer pays; the order page turns Paid by itself and shows the receipt', async () => {
    // The callback comes 2-2.5 s after the payment: the buyer is back on the order page before it does.
    s.sandbox.setFaults({ callbackDelayRate: 1, callbackDelayMinMs: 2000, callbackDelayMaxMs: 2500 });
    const page = await newPage();
    let navigations = 0;
    await buy(page, 'pay');
    page.on('framenavigated', () => navigations++);
    expect(await statusText(page)).toBe('Waiting for your payment');
    expect(await page.locator('#note').textContent()).toMatch(/^Pay within \d+:\d\d or the order closes\.$/);
    await waitForStatus(page, 'Paid');
    expect(navigations).toBe(0);
    const history = (await page.evaluate('window.statusHistory')) as string[];
    expect(history.at(-1)).toBe('SUCCESS by push');
    expect(history.some((h) => h.startsWith('PAYING'))).toBe(true);

    const receipt = page.locator('#receipt');
    await receipt.waitFor();
    const text = (await receipt.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Longjing green tea, 250 g');
    expect(text).toContain('Demo tea shop');
    expect(await page.locator('#receipt-amount').textContent()).toBe('25.99 CNY');
    expect(await page.locator('#receipt-channel').textContent()).toBe('SandboxPay');
    expect(await page.locator('#receipt-reference').textContent()).toBe(paymentOf(page));
    expect(await page.locator('#receipt-paid-at').textContent()).not.toBe('');
    expect(await page.locator('#open').isHidden()).toBe(true);
    expect(await visibleText(page)).not.toMatch(TRANSPORT_WORDS);
    await page.screenshot({ path: join(screenshots, 'order-paid.png'), fullPage: true });
    await page.close();
  });

  it('with the callback dropped, the order page still turns Paid after the first query', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const page = await newPage();
    await buy(page, 'pay');
    await waitForStatus(page, 'Paid');
    expect((await s.repo.get(paymentOf(page)))!.resolved_by).toBe('query');
    await page.close();
  });

  it('a declined payment says why; "Try again" makes a new attempt for the same order, and it pays', async () => {
    const page = await newPage();
    await buy(page, 'decline', 'insufficient funds');
    await waitForStatus(page, 'Payment declined');
    expect(await page.locator('#status').getAttribute('data-status')).toBe('FAILED');
    const declinedId = paymentOf(page);
    // The channel carries the buyer's reason (SandboxPay's `reason`), and the adapter reads it.
    const sandboxpay = new SandboxPayChannel(s.config.channels.sandboxpay!, s.logger);
    expect(await sandboxpay.query({ paymentId: declinedId })).toMatchObject({
      state: 'FAILED',
      reason: 'insufficient funds',
    });
    // The workflow keeps the channel's reason as the payment's status reason, and the page says it.
    const api = (await (await fetch(`${s.apiUrl}/payments/${declinedId}`)).json()) as { statusReason?: string };
    expect(api.statusReason).toBe('insufficient funds');
    expect(await page.locator('#note').textContent()).toBe('Your payment did not go through: insufficient funds.');
    expect(await page.locator('#retry').isVisible()).toBe(true);
    expect(await page.locator('#cancel').isVisible()).toBe(false);
    await page.screenshot({ path: join(screenshots, 'order-declined.png'), fullPage: true });

    await page.click('#retry');
    await page.waitForURL(/\/pay\/sp_/);
    await act(page, 'pay');
    await waitForStatus(page, 'Paid');
    const retriedId = paymentOf(page);
    expect(retriedId).not.toBe(declinedId);
    const [declined, retried] = [(await s.repo.get(declinedId))!, (await s.repo.get(retriedId))!];
    expect(retried.order_id).toBe(declined.order_id);
    expect(declined.status).toBe('FAILED');
    expect(retried.status).toBe('SUCCESS');
    expect(page.url()).toContain(`/shop/orders/${declined.order_id}?`);
    await page.screenshot({ path: join(screenshots, 'order-retried-paid.png'), fullPage: true });
    await page.close();
  });

  it('the buyer goes back to the wallet from the order page, then cancels; the order can be bought again', async () => {
    const page = await newPage();
    await toWallet(page, 'cup');
    await leaveWalletUnpaid(page);
    await page.locator('#back-to-wallet').waitFor();
    const wallet = await page.locator('#back-to-wallet').getAttribute('href');
    expect(wallet).toMatch(/\/pay\/sp_\w+\?return=/);
    await page.screenshot({ path: join(screenshots, 'order-waiting.png'), fullPage: true });

    await page.click('#cancel');
    await waitForStatus(page, 'Cancelled');
    expect((await s.repo.get(paymentOf(page)))!.status).toBe('CANCELLED');
    expect(await page.locator('#buy-again').isVisible()).toBe(true);
    expect(await page.locator('#open').isHidden()).toBe(true);
    await page.screenshot({ path: join(screenshots, 'order-cancelled.png'), fullPage: true });
    await page.close();
  });

  it('when the time runs out the order closes, and "Buy again" starts a new order that pays', async () => {
    const page = await newPage();
    await toWallet(page);
    await leaveWalletUnpaid(page);
    const first = (await s.repo.get(paymentOf(page)))!;
    await waitForStatus(page, 'Expired', (EXPIRY_S + 40) * 1000);
    expect(await page.locator('#note').textContent()).toBe(
      'The time to pay ran out, so this order was closed. Nothing was charged.',
    );
    await page.screenshot({ path: join(screenshots, 'order-expired.png'), fullPage: true });

    await page.click('#buy-again');
    await page.waitForURL(/\/pay\/sp_/);
    await act(page, 'pay');
    await waitForStatus(page, 'Paid');
    const again = (await s.repo.get(paymentOf(page)))!;
    expect(again.order_id).not.toBe(first.order_id);
    expect(again.amount).toBe(first.amount);
    await page.close();
  }, 150_000);

  it('while the push stream is down the page polls (backing off); when it is back, push again and polling stops', async () => {
    const page = await newPage();
    await page.route('**/payments/*/events', (route) => route.abort());
    await toWallet(page);
    const sp = new URL(page.url()).pathname.split('/').pop()!;
    await leaveWalletUnpaid(page);
    await page.waitForFunction('window.live.mode === "polling" && window.live.polls >= 2', undefined, {
      timeout: 20_000,
    });
    expect(await visibleText(page)).not.toMatch(TRANSPORT_WORDS);

    await page.unroute('**/payments/*/events');
    await page.waitForFunction('window.live.mode === "push"', undefined, { timeout: 30_000 });
    const polls = (await live(page)).polls;
    await page.waitForTimeout(5000);
    expect((await live(page)).polls).toBe(polls);

    // Paid elsewhere (the wallet on the buyer's phone): the page hears it on the stream.
    expect((await fetch(`${s.sandboxUrl}/wallet/${sp}/pay`, { method: 'POST' })).status).toBe(200);
    await waitForStatus(page, 'Paid');
    expect(((await page.evaluate('window.statusHistory')) as string[]).at(-1)).toBe('SUCCESS by push');
    await page.close();
  });

  it('with no push stream at all, the page still turns Paid by polling', async () => {
    s.sandbox.setFaults({ callbackDelayRate: 1, callbackDelayMinMs: 1500, callbackDelayMaxMs: 1500 });
    const page = await newPage();
    await page.route('**/payments/*/events', (route) => route.abort());
    await buy(page, 'pay');
    await waitForStatus(page, 'Paid');
    expect(((await page.evaluate('window.statusHistory')) as string[]).at(-1)).toBe('SUCCESS by polling');
    expect(await page.locator('#receipt').isVisible()).toBe(true);
    await page.close();
  });

  for (const channel of ['wechatpay', 'alipay'] as const) {
    it(`${channel}: the order page shows the QR code; opened in the wallet and paid, the order turns Paid`, async () => {
      const page = await newPage(720);
      await page.goto(`${s.ordersUrl}/shop`);
      await page.check(`input[name=channel][value=${channel}]`);
      await page.click('button[data-sku="cup"]');
      await page.waitForURL(/\/shop\/orders\//);
      await page.locator('#qr svg').waitFor();
      const codeUrl = await page.locator('#qr').getAttribute('data-code-url');
      expect(codeUrl).toMatch(/^http:\/\/(localhost|127\.0\.0\.1):\d+\/pay\//);
      await page.screenshot({ path: join(screenshots, `order-qr-${channel}.png`), fullPage: true });
      await page.click('#back-to-wallet');
      await page.waitForURL(/\/pay\//);
      expect(await page.locator('#amount').textContent()).toBe('88.00 CNY');
      expect(await page.locator('#merchant').textContent()).toBe('Demo tea shop');
      await page.click('#pay');
      await page.waitForURL(/\/shop\/orders\//);
      await waitForStatus(page, 'Paid');
      expect(await page.locator('#qr').isVisible()).toBe(false);
      expect((await s.repo.get(paymentOf(page)))!.channel).toBe(channel);
      expect(await page.locator('#receipt-channel').textContent()).toBe(
        channel === 'wechatpay' ? 'WeChat Pay' : 'Alipay',
      );
      await page.close();
    });
  }

  it('stripe: the test checkout says why a card was declined, takes another, and the order turns Paid', async () => {
    const page = await newPage(560);
    await page.goto(`${s.ordersUrl}/shop`);
    await page.check('input[name=channel][value=stripe]');
    await page.screenshot({ path: join(screenshots, 'shop-channels.png') });
    await page.click('button[data-sku="tea"]');
    await page.waitForURL(/\/stripe\/checkout\/pi_/);
    expect(await page.locator('#amount').textContent()).toBe('25.99 CNY');
    expect(await page.locator('#merchant').textContent()).toBe('Demo tea shop');
    await page.click('#decline');
    await page.waitForFunction(`document.getElementById('status').textContent.startsWith('Your card was declined.')`);
    await page.screenshot({ path: join(screenshots, 'stripe-checkout.png') });
    await page.click('#pay');
    await page.waitForURL(/\/shop\/orders\//);
    await waitForStatus(page, 'Paid');
    expect((await s.repo.get(paymentOf(page)))!.channel).toBe('stripe');
    await page.close();
  });

  it('the wallet shows the merchant, what is paid for and one status in words, never our payment id', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 460 } });
    await page.goto(`${s.ordersUrl}/shop`);
    await page.screenshot({ path: join(screenshots, 'shop.png') });
    await toWallet(page);
    const order = new URL(new URL(page.url()).searchParams.get('return')!);
    const paymentId = order.searchParams.get('payment')!;
    expect(await page.locator('#merchant').textContent()).toBe('Demo tea shop');
    expect(await page.locator('#item').textContent()).toBe('Longjing green tea, 250 g');
    expect(await page.locator('#amount').textContent()).toBe('25.99 CNY');
    expect(await page.locator('#status').textContent()).toBe('Waiting for you to pay');
    const text = await visibleText(page);
    expect(text).not.toContain(paymentId);
    expect(text).not.toMatch(/NOTPAY|Wallet says/);
    await page.screenshot({ path: join(screenshots, 'wallet.png') });
    await page.close();
  });

  it('sends the buyer to addresses on the host it reached the shop at (the demo from another host)', async () => {
    // A shop told nothing about its public address, as sandbox/main.ts builds it.
    const app = express();
    app.use(createShopRouter({ db: s.t.db, paymentsApiUrl: s.apiUrl, logger: s.logger }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await new Promise<{ status: number; body: { orderUrl: string; next: string } }>(
        (resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port,
              path: '/shop/checkout',
              method: 'POST',
              headers: { host: 'shop.example.test:8080', 'content-type': 'application/json' },
            },
            (res) => {
              let data = '';
              res.on('data', (c: Buffer) => (data += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ sku: 'tea', channel: 'sandboxpay' }));
        },
      );
      expect(answer.status).toBe(200);
      expect(answer.body.orderUrl).toMatch(/^http:\/\/shop\.example\.test:8080\/shop\/orders\/shop-/);
      expect(new URL(answer.body.next).searchParams.get('return')).toBe(answer.body.orderUrl);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
