// The article's client flow in a real browser (Debian's Chromium driven by playwright-core), against the whole
// stack with every channel on its double: pick an item and a way to pay in the demo shop, pay (the SandboxPay wallet;
// the QR code of WeChat Pay or Alipay on the order page, opened in their emulator's wallet; Stripe's test checkout),
// come back to the order page, and watch it turn Paid by itself. Screenshots go to test-results/screenshots/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { readToolchain } from '../../scripts/stack/toolchain';
import { alipayDouble } from '../support/alipay';
import { Stack } from '../support/stack';
import { stripeChannelDouble } from '../support/stripe';
import { wechatPayDouble } from '../support/wechatpay-emulator';

const screenshots = join(__dirname, '..', '..', 'test-results', 'screenshots');

describe('the demo shop in a browser', () => {
  let s: Stack;
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    s = await Stack.start({
      env: { PAYMENT_QUERY_SCHEDULE: '2s,3s' },
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

  /** Shop -> wallet -> (pay or decline) -> back on the order page. */
  async function buy(page: Page, action: 'pay' | 'decline'): Promise<void> {
    await page.goto(`${s.ordersUrl}/shop`);
    await page.click('button[data-sku="tea"]');
    await page.waitForURL(/\/pay\/sp_/);
    await page.getByText('25.99 CNY').waitFor();
    await page.click(`#${action}`);
    await page.waitForURL(/\/shop\/orders\//);
  }

  const statusText = (page: Page) => page.locator('#status').textContent();
  const waitForStatus = (page: Page, text: string) =>
    // A string expression: evaluated in the page (this file is compiled without the DOM's types).
    page.waitForFunction(`document.getElementById('status')?.textContent === ${JSON.stringify(text)}`, undefined, {
      timeout: 30_000,
    });

  it('the buyer pays and the order page turns Paid by itself, without reloading', async () => {
    // The callback comes 2-2.5 s after the payment: the buyer is back on the order page before it does.
    s.sandbox.setFaults({ callbackDelayRate: 1, callbackDelayMinMs: 2000, callbackDelayMaxMs: 2500 });
    const page = await browser.newPage({ viewport: { width: 760, height: 420 } });
    let navigations = 0;
    await buy(page, 'pay');
    page.on('framenavigated', () => navigations++);
    expect(await statusText(page)).toBe('Waiting for payment…');
    await waitForStatus(page, 'Paid');
    expect(navigations).toBe(0);
    const history = (await page.evaluate('window.statusHistory')) as string[];
    expect(history.at(-1)).toBe('SUCCESS by push');
    expect(history.some((h) => h.startsWith('PAYING'))).toBe(true);
    await page.screenshot({ path: join(screenshots, 'order-paid.png') });
    await page.close();
  });

  it('with the callback dropped, the order page still turns Paid after the first query', async () => {
    s.sandbox.setFaults({ callbackDropRate: 1 });
    const page = await browser.newPage({ viewport: { width: 760, height: 420 } });
    await buy(page, 'pay');
    await waitForStatus(page, 'Paid');
    const paymentId = new URL(page.url()).searchParams.get('payment')!;
    expect((await s.repo.get(paymentId))!.resolved_by).toBe('query');
    await page.screenshot({ path: join(screenshots, 'order-paid-after-query.png') });
    await page.close();
  });

  it('a declined payment shows Failed', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 420 } });
    await buy(page, 'decline');
    await waitForStatus(page, 'Failed');
    expect(await page.locator('#status').getAttribute('data-status')).toBe('FAILED');
    await page.screenshot({ path: join(screenshots, 'order-failed.png') });
    await page.close();
  });

  it('when the push stream is cut, the page falls back to polling and still turns Paid', async () => {
    s.sandbox.setFaults({ callbackDelayRate: 1, callbackDelayMinMs: 1500, callbackDelayMaxMs: 1500 });
    const page = await browser.newPage({ viewport: { width: 760, height: 420 } });
    await page.route('**/payments/*/events', (route) => route.abort());
    await buy(page, 'pay');
    await waitForStatus(page, 'Paid');
    expect(await page.locator('#via').textContent()).toBe('updated by polling');
    await page.close();
  });

  for (const channel of ['wechatpay', 'alipay'] as const) {
    it(`${channel}: the order page shows the QR code; opened in the wallet and paid, the order turns Paid`, async () => {
      const page = await browser.newPage({ viewport: { width: 760, height: 640 } });
      await page.goto(`${s.ordersUrl}/shop`);
      await page.check(`input[name=channel][value=${channel}]`);
      await page.click('button[data-sku="cup"]');
      await page.waitForURL(/\/shop\/orders\//);
      await page.locator('#qr svg').waitFor();
      const codeUrl = await page.locator('#qr').getAttribute('data-code-url');
      expect(codeUrl).toMatch(/^http:\/\/(localhost|127\.0\.0\.1):\d+\/pay\//);
      await page.screenshot({ path: join(screenshots, `order-qr-${channel}.png`) });
      await page.click('#open-wallet');
      await page.waitForURL(/\/pay\//);
      await page.getByText('88.00 CNY').waitFor();
      await page.click('#pay');
      await page.waitForURL(/\/shop\/orders\//);
      await waitForStatus(page, 'Paid');
      expect(await page.locator('#qr').count()).toBe(0);
      const paymentId = new URL(page.url()).searchParams.get('payment')!;
      expect((await s.repo.get(paymentId))!.channel).toBe(channel);
      await page.screenshot({ path: join(screenshots, `order-paid-${channel}.png`) });
      await page.close();
    });
  }

  it('stripe: the test checkout page takes the card, and the order turns Paid', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 560 } });
    await page.goto(`${s.ordersUrl}/shop`);
    await page.check('input[name=channel][value=stripe]');
    await page.screenshot({ path: join(screenshots, 'shop-channels.png') });
    await page.click('button[data-sku="tea"]');
    await page.waitForURL(/\/stripe\/checkout\/pi_/);
    await page.getByText('25.99 CNY').waitFor();
    await page.screenshot({ path: join(screenshots, 'stripe-checkout.png') });
    await page.click('#pay');
    await page.waitForURL(/\/shop\/orders\//);
    await waitForStatus(page, 'Paid');
    const paymentId = new URL(page.url()).searchParams.get('payment')!;
    expect((await s.repo.get(paymentId))!.channel).toBe('stripe');
    await page.close();
  });

  it('shows the wallet page the buyer pays on', async () => {
    const page = await browser.newPage({ viewport: { width: 760, height: 420 } });
    await page.goto(`${s.ordersUrl}/shop`);
    await page.screenshot({ path: join(screenshots, 'shop.png') });
    await page.click('button[data-sku="tea"]');
    await page.waitForURL(/\/pay\/sp_/);
    await page.getByText('25.99 CNY').waitFor();
    await page.screenshot({ path: join(screenshots, 'wallet.png') });
    await page.close();
  });
});
