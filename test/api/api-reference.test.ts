// The API describes where it is and can be read in a browser: GET /openapi.json names API_PUBLIC_URL as its server,
// and /docs is Swagger UI over that document, every asset served by the API itself (no CDN), rendered here in
// Debian's Chromium (playwright-core) with a screenshot in test-results/screenshots/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import knex from 'knex';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';
import { readToolchain } from '../../scripts/stack/toolchain';
import { listen } from '../support/http';
import { openApiDocument } from '../support/openapi';

const PUBLIC_URL = 'https://payments.shop.example';
const screenshots = join(__dirname, '..', '..', 'test-results', 'screenshots');

describe('the API reference', () => {
  let http: Awaited<ReturnType<typeof listen>>;
  const db = knex({ client: 'pg', connection: 'postgres://127.0.0.1:1/unused' });
  // Neither the document nor the reference page touches PostgreSQL or Temporal: both stay unconnected.
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  beforeAll(async () => {
    const config = loadConfig({ API_PUBLIC_URL: PUBLIC_URL });
    http = await listen(createApp({ db, temporal, config, logger: pino({ level: 'silent' }) }));
  });
  afterAll(async () => {
    await http?.close();
    await db.destroy();
  });

  it('GET /openapi.json names the configured public URL as its server, the rest as generated', async () => {
    const served = (await (await fetch(`${http.url}/openapi.json`)).json()) as Record<string, unknown>;
    expect(served.servers).toEqual([{ url: PUBLIC_URL }]);
    expect({ ...served, servers: undefined }).toEqual({ ...openApiDocument, servers: undefined });
  });

  it('serves the page and every asset it loads from the API itself, under a CSP that allows nothing else', async () => {
    const page = await fetch(`${http.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ${PUBLIC_URL}`);
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(
      ['/docs/favicon-32x32.png', '/docs/init.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css'].sort(),
    );
    for (const asset of assets) {
      const res = await fetch(`${http.url}${asset}`);
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    expect(await (await fetch(`${http.url}/docs/init.js`)).text()).toMatch(/url: '\/openapi.json'/);
    // Only what the page needs: swagger-ui-dist's own index (the petstore demo) is not served.
    expect((await fetch(`${http.url}/docs/index.html`)).status).toBe(404);
    expect((await fetch(`${http.url}/docs/swagger-initializer.js`)).status).toBe(404);
  });

  it('renders every operation in Chromium, with the public URL as the server and no request leaving the API', async () => {
    const executablePath = readToolchain().chromium;
    if (!executablePath) throw new Error('no Chromium: run the tests through npm test (bootstrap installs it)');
    const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
      const elsewhere: string[] = [];
      const errors: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith(http.url) && !req.url().startsWith('data:')) elsewhere.push(req.url());
      });
      page.on('pageerror', (err) => errors.push(err.message));
      page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
      await page.goto(`${http.url}/docs`);
      await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
      const operations = Object.values(openApiDocument.paths).flatMap((item) => Object.keys(item)).length;
      expect(await page.locator('.opblock').count()).toBe(operations);
      expect(await page.locator('.servers select option').allTextContents()).toEqual([PUBLIC_URL]);
      await expect(page.locator('.opblock-summary-path', { hasText: /^\/payments$/ }).count()).resolves.toBe(1);
      mkdirSync(screenshots, { recursive: true });
      await page.screenshot({ path: join(screenshots, 'api-reference.png') });
      expect(elsewhere).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
