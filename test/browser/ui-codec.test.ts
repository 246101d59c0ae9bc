// The Temporal Web UI reads a payment through our codec server, in a real browser (Debian's Chromium driven by
// playwright-core): the cluster profile's UI server (deploy/temporal/ui, started by uiServerChild) pointed at the
// suite's dev server, its codec endpoint our API's /codec with credentials included, as an operator runs it. A
// payment runs the whole way (paid in the wallet, so its history has the channel's callback signal too). Not signed
// in, the page calls the codec server, gets 401 and shows the input as ciphertext, none of the payment's data; signed
// in at the API's /codec/login in the same browser, the same page shows the input, the result, the summary and the
// callback decoded. The UI and the API are opened by the same host name (localhost) so the session cookie is sent.
// Screenshots go to test-results/screenshots/ui-codec-*.png.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { freePort } from '../../scripts/stack/net';
import { Supervisor } from '../../scripts/stack/supervisor';
import { uiServerChild } from '../../scripts/stack/temporal-cluster';
import { readToolchain } from '../../scripts/stack/toolchain';
import { paymentWorkflowId } from '../../workflows/definitions';
import { devServerAddress } from '../support/env';
import { paidThroughApi } from '../support/operator-payments';
import { ADMIN_KEY, Stack } from '../support/stack';

const screenshots = join(__dirname, '..', '..', 'test-results', 'screenshots');
const AMOUNT = 48_213; // 482.13 CNY: digits that appear nowhere else on the page
/** How long the UI may take to load a workflow and decode its payloads (a shared, busy machine). */
const UI_WAIT_MS = 30_000;

describe('the Temporal Web UI decodes payments through our codec server', () => {
  let s: Stack;
  let supervisor: Supervisor;
  let browser: Browser;
  let context: BrowserContext;
  let uiUrl: string;
  /** The UI server's own output (its log), every line. */
  const uiOutput: string[] = [];
  let payment: { paymentId: string; orderId: string; description: string; channelPaymentId: string };
  let workflowPage: string;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    const uiPort = await freePort();
    uiUrl = `http://localhost:${uiPort}`;
    // The first query a minute out: the channel's callback decides the payment however busy the machine is.
    s = await Stack.start({ env: { CODEC_CORS_ORIGINS: uiUrl, PAYMENT_QUERY_SCHEDULE: '1m' } });
    // The API's public URL is http://localhost:<port> (the config's default), the same site as the UI's.
    expect(new URL(s.config.api.publicUrl).hostname).toBe('localhost');

    const toolchain = readToolchain();
    if (!toolchain.temporalUiServer) throw new Error('no UI server: run `node scripts/bootstrap.mjs cluster`');
    if (!toolchain.chromium) throw new Error('no Chromium: run the tests through npm test (bootstrap installs it)');
    supervisor = new Supervisor(() => undefined, {
      format: (_name, line) => {
        uiOutput.push(line);
        return undefined;
      },
    });
    await supervisor.start(
      uiServerChild({
        binaries: { uiServer: toolchain.temporalUiServer },
        ports: { services: { frontend: { grpc: Number(devServerAddress().split(':').pop()) } }, ui: uiPort },
        codecEndpoint: `${s.config.api.publicUrl}/codec`,
      }),
    );
    browser = await chromium.launch({
      executablePath: toolchain.chromium,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // One browser profile for both tests: the operator signs in, in the second, in the same browser.
    context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });

    const description = `Porcelain gaiwan ${randomUUID().slice(0, 8)}`;
    const { paymentId, orderId, channelPaymentId } = await paidThroughApi(s, AMOUNT, description);
    payment = { paymentId, orderId, description, channelPaymentId };
    workflowPage = `${uiUrl}/namespaces/default/workflows/${paymentWorkflowId(paymentId)}`;
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await supervisor?.stopAll();
    await s?.stop();
  });

  /** The statuses of the page's POSTs to the codec server's /decode (CORS preflights left out). */
  function decodeCalls(page: Page): number[] {
    const statuses: number[] = [];
    page.on('response', (res) => {
      const req = res.request();
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/codec/decode') statuses.push(res.status());
    });
    return statuses;
  }

  const visibleText = (page: Page) => page.locator('body').innerText();
  /** The alert over the workflow's details (the navigation has a hidden one of its own). */
  const codecAlert = (page: Page) => page.locator('#content').getByText('Codec Server could not connect');
  const inputBox = (page: Page) => page.locator('[data-testid="input-and-result"] code').first();
  const resultBox = (page: Page) => page.locator('[data-testid="input-and-result"] code').nth(1);

  /**
   * Waits for `text` in one of the page's frames: the UI shows summaries (markdown) in frames of their own, which
   * its server renders (GET /render?content=...).
   */
  async function framesShow(page: Page, text: string): Promise<void> {
    const deadline = Date.now() + UI_WAIT_MS;
    for (;;) {
      for (const frame of page.frames()) {
        if (frame === page.mainFrame()) continue;
        const shown = await frame
          .locator('body')
          .innerText({ timeout: 1000 })
          .catch(() => '');
        if (shown.includes(text)) return;
      }
      if (Date.now() > deadline) throw new Error(`no frame of the page shows ${JSON.stringify(text)}`);
      await page.waitForTimeout(250);
    }
  }

  /** The payment's data as it would show decoded: none of it may be on the page without the codec. */
  const secrets = () => [payment.orderId, payment.description, payment.channelPaymentId, String(AMOUNT), '482.13'];

  it('not signed in: the codec server answers 401 and the page shows the payment encrypted', async () => {
    const page = await context.newPage();
    const decodes = decodeCalls(page);
    await page.goto(workflowPage);
    // The workflow's page (the UI adds the run id and opens its timeline).
    await page.waitForURL(/\/workflows\/payment-[^/]+\/[0-9a-f-]{36}\/timeline$/, { timeout: UI_WAIT_MS });
    await codecAlert(page).waitFor({ timeout: UI_WAIT_MS });
    // The input as the UI shows a payload it could not decode (before the answer, it shows null).
    const base64 = /^\s*"[A-Za-z0-9+/]{100,}={0,2}"\s*$/;
    await inputBox(page).filter({ hasText: base64 }).waitFor({ timeout: UI_WAIT_MS });

    // The page did ask the codec server, which refused every request: no cookie, no key.
    expect(decodes.length).toBeGreaterThan(0);
    expect(decodes.every((status) => status === 401)).toBe(true);
    // The input and result are the ciphertext as the UI got it from Temporal (base64, not JSON).
    expect((await resultBox(page).textContent())!.trim()).toMatch(/^"[A-Za-z0-9+/]{40,}={0,2}"$/);
    const text = await visibleText(page);
    for (const secret of secrets())
      expect({ secret, onPage: text.includes(secret) }).toEqual({ secret, onPage: false });
    expect(text).not.toContain('"paymentId"');
    // The input opened in full: ciphertext still.
    await page.getByRole('button', { name: 'Preview Input' }).click();
    await page
      .getByRole('dialog')
      .getByText(/[A-Za-z0-9+/]{100,}/)
      .first()
      .waitFor({ timeout: UI_WAIT_MS });
    expect(await page.getByRole('dialog').innerText()).not.toContain(payment.description);
    await page.screenshot({ path: join(screenshots, 'ui-codec-encoded.png') });
    await page.close();
  });

  it('signed in at /codec/login: the same page shows the input, the result and the callback decoded', async () => {
    const login = await context.newPage();
    await login.goto(`${s.config.api.publicUrl}/codec/login`);
    await login.fill('#key', ADMIN_KEY);
    await login.click('button[type=submit]');
    await login.getByText(/^Signed in until /).waitFor();
    await login.screenshot({ path: join(screenshots, 'ui-codec-login.png') });
    await login.close();

    const page = await context.newPage();
    const decodes = decodeCalls(page);
    await page.goto(workflowPage);
    await page.waitForURL(/\/timeline$/, { timeout: UI_WAIT_MS });
    // Decoded: the input is the workflow's JSON.
    await inputBox(page).filter({ hasText: payment.description }).waitFor({ timeout: UI_WAIT_MS });
    expect(decodes.length).toBeGreaterThan(0);
    expect(decodes.every((status) => status === 200)).toBe(true);
    expect(await codecAlert(page).count()).toBe(0);

    const input = JSON.parse((await inputBox(page).textContent())!) as Record<string, unknown>;
    expect(input).toMatchObject({
      paymentId: payment.paymentId,
      orderId: payment.orderId,
      amount: AMOUNT,
      currency: 'CNY',
      channel: 'sandboxpay',
      description: payment.description,
    });
    expect(JSON.parse((await resultBox(page).textContent())!)).toMatchObject({
      paymentId: payment.paymentId,
      status: 'SUCCESS',
      resolvedBy: 'callback',
    });
    // The activities' and the timer's summaries are payloads too: decoded on the timeline (each rendered in a frame).
    await framesShow(page, 'createChannelPayment • create the payment at the channel');
    await framesShow(page, 'callback, or query #1');
    // The input opened in full, for the screenshot.
    await page.getByRole('button', { name: 'Preview Input' }).click();
    await page.getByRole('dialog').getByText(payment.description).first().waitFor({ timeout: UI_WAIT_MS });
    await page.screenshot({ path: join(screenshots, 'ui-codec-decoded.png') });
    await page.keyboard.press('Escape');

    // The event history: the callback signal (what the API signalled after checking the channel's signature),
    // opened (its event's page), decoded to the channel's answer.
    await page.getByRole('tab', { name: /Event History/ }).click();
    await page.waitForURL(/\/history$/, { timeout: UI_WAIT_MS });
    const signaled = page.locator('tr', { hasText: 'Workflow Execution Signaled' }).first();
    await signaled.waitFor({ timeout: UI_WAIT_MS });
    await signaled.locator('td').first().click();
    await page.getByText(payment.channelPaymentId).first().waitFor({ timeout: UI_WAIT_MS });
    const history = await visibleText(page);
    expect(history).toContain(payment.channelPaymentId);
    expect(history).toMatch(/"state":\s*"SUCCESS"/);
    await page.screenshot({ path: join(screenshots, 'ui-codec-callback.png'), fullPage: true });

    // The workflow's summary and details (User Metadata) decoded too, and its current details (a query's answer).
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await framesShow(page, `Payment 482.13 CNY for order ${payment.orderId} via sandboxpay`);
    await framesShow(page, `SUCCESS 482.13 CNY for order ${payment.orderId} via sandboxpay`);
    await page.screenshot({ path: join(screenshots, 'ui-codec-summary.png') });
    expect(decodes.every((status) => status === 200)).toBe(true);
    await page.close();

    // The page sent decoded summaries back to the UI server to render (GET /render?content=...): its access log is
    // off (deploy/temporal/ui/base.yaml), so none of the payment's data is written there.
    const log = uiOutput.join('\n');
    for (const secret of secrets())
      expect({ secret, inUiLog: log.includes(secret) }).toEqual({ secret, inUiLog: false });
  });
});
