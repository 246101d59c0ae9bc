// The codec server (api/codec.ts) over real HTTP, with the real payload codec: what the Temporal Web UI and the
// `temporal` CLI send (Temporal's contract: {"payloads": [...]} in protobuf JSON), who may send it (the admin key as
// X-Api-Key or Bearer, or the session cookie of /codec/login), and CORS for the Web UI's origin. The last test signs in
// and calls the codec from another origin of the same site in Chromium, as the Web UI does with "include cross-origin
// credentials". No workflow runs: PostgreSQL and Temporal stay unconnected.
import { execFile } from 'node:child_process';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { JSONToPayload, type JSONPayload, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import express from 'express';
import knex from 'knex';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { createApp } from '../../api/app';
import { CODEC_SESSION_COOKIE } from '../../api/codec';
import { EncryptionCodec } from '../../codec/encryption-codec';
import { ConfigError, loadConfig } from '../../config';
import { readToolchain } from '../../scripts/stack/toolchain';
import { devServerAddress } from '../support/env';
import { listen } from '../support/http';
import { call } from '../support/openapi';

const ADMIN_KEY = 'codec-test-admin-key-0123456789';
const UI_ORIGIN = 'http://localhost:8233';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const newKey = () => randomBytes(32).toString('base64');

/** What the SDK's default payload converter makes of a payment's data: JSON, a string, null, bytes. */
const PAYMENT = { paymentId: 'p-7f3a', orderId: 'order-4711', amount: 8800, currency: 'CNY', payer: 'openid-abc' };
const samples = (): JSONPayload[] =>
  [PAYMENT, 'buyer_logon_id=someone@example.com', null, Uint8Array.from([1, 2, 3, 250])].map((value) =>
    payloadToJSON(defaultPayloadConverter.toPayload(value)),
  );

describe('the codec server', () => {
  const db = knex({ client: 'pg', connection: 'postgres://127.0.0.1:1/unused' });
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const logger = pino({ level: 'silent' });
  const current = newKey();
  const previous = newKey();
  const config = loadConfig({
    ADMIN_API_KEY: ADMIN_KEY,
    PAYLOAD_ENCRYPTION_KEYS: `k2:${current},k1:${previous}`,
  });
  /** The codec every client and worker would have with this configuration, to make and read payloads here. */
  const codec = new EncryptionCodec({ keys: config.payloadEncryption.keys });
  let api: Awaited<ReturnType<typeof listen>>;
  const key = { 'x-api-key': ADMIN_KEY };

  beforeAll(async () => {
    api = await listen(createApp({ db, temporal, config, logger }));
  });
  afterAll(async () => {
    await api?.close();
    await db.destroy();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = key) =>
    call(api.url, 'POST', path, { body, headers: { 'x-namespace': 'default', ...headers } });

  it('encodes with the current key and decodes back what the SDK made, byte for byte', async () => {
    const plain = samples();
    const encoded = await post('/codec/encode', { payloads: plain });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('cache-control')).toBe('no-store');
    expect(encoded.body.payloads).toHaveLength(plain.length);
    for (const p of encoded.body.payloads as JSONPayload[]) {
      expect(p.metadata).toEqual({ encoding: b64('binary/encrypted'), 'encryption-key-id': b64('k2') });
      const bytes = Buffer.from(p.data!, 'base64');
      expect(bytes.includes('order-4711')).toBe(false);
      expect(bytes.includes('someone@example.com')).toBe(false);
    }
    // What the server encrypted is what our workers read, and the other way round.
    const workerView = await codec.decode((encoded.body.payloads as JSONPayload[]).map(JSONToPayload));
    expect(workerView.map((p) => payloadToJSON(p))).toEqual(plain);

    const decoded = await post('/codec/decode', { payloads: encoded.body.payloads });
    expect(decoded.status).toBe(200);
    expect(decoded.body.payloads).toEqual(plain);
    const values = (decoded.body.payloads as JSONPayload[]).map((p) =>
      defaultPayloadConverter.fromPayload(JSONToPayload(p)),
    );
    expect(values).toEqual([PAYMENT, 'buyer_logon_id=someone@example.com', null, Uint8Array.from([1, 2, 3, 250])]);
  });

  it('decodes what the previous key encrypted, and hands payloads that are not encrypted back as they are', async () => {
    const old = new EncryptionCodec({ keys: config.payloadEncryption.keys.slice(1) });
    const [fromBefore] = await old.encode([defaultPayloadConverter.toPayload(PAYMENT)]);
    const clear = samples()[1]!;
    const decoded = await post('/codec/decode', { payloads: [payloadToJSON(fromBefore!), clear] });
    expect(decoded.status).toBe(200);
    expect(decoded.body.payloads).toEqual([samples()[0], clear]);
  });

  it('answers 422 naming the key id and the payload when a key is not configured or a payload was altered', async () => {
    const other = new EncryptionCodec({ keys: [{ id: 'retired-2025', key: createSecretKey(randomBytes(32)) }] });
    const [foreign] = await other.encode([defaultPayloadConverter.toPayload(PAYMENT)]);
    const unknown = await post('/codec/decode', { payloads: [samples()[1], payloadToJSON(foreign!)] });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'payload_not_decryptable', keyId: 'retired-2025', payload: 1 });
    expect(unknown.body.error.message).toMatch(/key "retired-2025", which is not configured here/);
    expect(JSON.stringify(unknown.body)).not.toContain('order-4711');

    const [ours] = await codec.encode([defaultPayloadConverter.toPayload(PAYMENT)]);
    const altered = Buffer.from(ours!.data!);
    altered[20] = altered[20]! ^ 0x01;
    const tampered = await post('/codec/decode', { payloads: [payloadToJSON({ ...ours!, data: altered })] });
    expect(tampered.status).toBe(422);
    expect(tampered.body.error).toMatchObject({ code: 'payload_not_decryptable', keyId: 'k2', payload: 0 });
    expect(tampered.body.error.message).toMatch(/failed authentication/);
  });

  it('takes {} as no payloads (protobuf JSON leaves an empty list out: the CLI sends it for a query without arguments)', async () => {
    for (const op of ['encode', 'decode']) {
      const r = await post(`/codec/${op}`, {});
      expect([op, r.status, r.body]).toEqual([op, 200, { payloads: [] }]);
    }
  });

  it('refuses a body that is not the contract with a 400 naming the field, never a 500', async () => {
    const notBase64 = await post('/codec/decode', {
      payloads: [{ metadata: { encoding: b64('json/plain') }, data: '%%' }],
    });
    expect(notBase64.status).toBe(400);
    expect(notBase64.body.error.fields.map((f: { field: string }) => f.field)).toEqual(['body.payloads.0.data']);
    const badMetadata = await post('/codec/encode', { payloads: [{ metadata: { encoding: 42 } }] });
    expect(badMetadata.status).toBe(400);
    expect(badMetadata.body.error.fields.map((f: { field: string }) => f.field)).toEqual([
      'body.payloads.0.metadata.encoding',
    ]);
    const noList = await post('/codec/encode', { payloads: 'x' });
    expect(noList.status).toBe(400);
    expect(noList.body.error.fields.map((f: { field: string }) => f.field)).toEqual(['body.payloads']);
    const extra = await post('/codec/decode', { payloads: [], namespace: 'default' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.fields[0].message).toMatch(/unknown field\(s\): namespace/);
    const notJson = await call(api.url, 'POST', '/codec/decode', {
      raw: '{"payloads":[',
      headers: { ...key, 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
    const form = await call(api.url, 'POST', '/codec/decode', {
      raw: 'payloads=1',
      headers: { ...key, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
  });

  it('answers 401 (JSON) without a credential or with a wrong one, on both operations', async () => {
    const payloads = samples();
    for (const path of ['/codec/encode', '/codec/decode']) {
      const none = await post(path, { payloads }, {});
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('unauthorized');
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await post(path, { payloads }, { 'x-api-key': `${ADMIN_KEY}x` })).status).toBe(401);
      expect((await post(path, { payloads }, { authorization: `Bearer ${ADMIN_KEY.slice(1)}` })).status).toBe(401);
      expect((await post(path, { payloads }, { authorization: `Basic ${b64(`admin:${ADMIN_KEY}`)}` })).status).toBe(
        401,
      );
      expect((await post(path, { payloads }, { cookie: `${CODEC_SESSION_COOKIE}=${ADMIN_KEY}` })).status).toBe(401);
    }
  });

  it('takes the admin key as X-Api-Key or as a bearer token (the CLI: --codec-auth "Bearer <key>")', async () => {
    const payloads = samples();
    expect((await post('/codec/encode', { payloads }, { 'x-api-key': ADMIN_KEY })).status).toBe(200);
    const bearer = await post('/codec/encode', { payloads }, { authorization: `Bearer ${ADMIN_KEY}` });
    expect(bearer.status).toBe(200);
    const back = await post(
      '/codec/decode',
      { payloads: bearer.body.payloads },
      { authorization: `bearer ${ADMIN_KEY}` },
    );
    expect(back.body.payloads).toEqual(payloads);
  });

  it('signs a browser in: a wrong key is refused, the right one sets an HttpOnly session cookie that is not the key', async () => {
    const page = await call(api.url, 'GET', '/codec/login');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.body).toMatch(/<form method="post" action="login">/);
    expect(page.body).toContain(`${config.api.publicUrl}/codec`);

    const form = (k: string) => ({
      raw: new URLSearchParams({ key: k }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const wrong = await call(api.url, 'POST', '/codec/login', form('not-the-admin-key'));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(wrong.body).toMatch(/not the admin API key/);
    const empty = await call(api.url, 'POST', '/codec/login', { body: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error.fields.map((f: { field: string }) => f.field)).toEqual(['body.key']);

    const before = Date.now();
    const ok = await call(api.url, 'POST', '/codec/login', form(ADMIN_KEY));
    expect(ok.status).toBe(200);
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`^${CODEC_SESSION_COOKIE}=[0-9]+\\.[A-Za-z0-9_-]{43};`));
    expect(setCookie).toMatch(/; Path=\/codec(;|$)/);
    expect(setCookie).toMatch(/; HttpOnly(;|$)/);
    expect(setCookie).toMatch(/; SameSite=Lax(;|$)/);
    expect(setCookie).not.toMatch(/; Secure/); // http://localhost: a Secure cookie would never be sent
    expect(setCookie).not.toContain(ADMIN_KEY);
    const expires = Date.parse(/Expires=([^;]+)/.exec(setCookie)![1]!);
    expect(expires - before).toBeGreaterThan(8 * 3600_000 - 5000);
    expect(expires - before).toBeLessThanOrEqual(8 * 3600_000 + 1000);
    const cookie = setCookie.split(';')[0]!;

    const payloads = samples();
    const encoded = await post('/codec/encode', { payloads }, { cookie });
    expect(encoded.status).toBe(200);
    expect((await post('/codec/decode', { payloads: encoded.body.payloads }, { cookie })).body.payloads).toEqual(
      payloads,
    );
    const signedIn = await call(api.url, 'GET', '/codec/login', { headers: { cookie } });
    expect(signedIn.body).toMatch(/Signed in until/);

    // The token is bound to its expiry and to the admin key: a later expiry, or another deployment's, is refused.
    const [expiry, mac] = cookie.split('=')[1]!.split('.');
    const extended = `${CODEC_SESSION_COOKIE}=${Number(expiry) + 3600}.${mac}`;
    expect((await post('/codec/decode', { payloads }, { cookie: extended })).status).toBe(401);
    const elsewhere = await listen(
      createApp({
        db,
        temporal,
        config: { ...config, api: { ...config.api, adminApiKey: `${ADMIN_KEY}-other` } },
        logger,
      }),
    );
    try {
      const there = await call(elsewhere.url, 'POST', '/codec/decode', { body: { payloads }, headers: { cookie } });
      expect(there.status).toBe(401);
    } finally {
      await elsewhere.close();
    }

    const out = await call(api.url, 'POST', '/codec/logout', { headers: { cookie } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(
      new RegExp(`^${CODEC_SESSION_COOKIE}=; Path=/codec; Expires=Thu, 01 Jan 1970`),
    );
  });

  it("lets the Web UI's origin call with credentials (preflight and answer), and no other origin", async () => {
    const preflight = await fetch(`${api.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization,authorization-extras',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST');
    const allowed = preflight.headers.get('access-control-allow-headers')!.toLowerCase().split(',');
    expect(allowed).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
    expect(preflight.headers.get('vary')).toMatch(/Origin/);
    // The UI's origin by its other loopback name is allowed too (CODEC_CORS_ORIGINS' default names both).
    const byAddress = await fetch(`${api.url}/codec/encode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:8233', 'access-control-request-method': 'POST' },
    });
    expect(byAddress.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');

    // The answer itself, a 401 included, carries the headers, so the UI can tell "not signed in" from a network error.
    const denied = await post('/codec/decode', { payloads: [] }, { origin: UI_ORIGIN });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const answered = await post('/codec/decode', { payloads: [] }, { ...key, origin: UI_ORIGIN });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(answered.headers.get('access-control-allow-credentials')).toBe('true');

    for (const origin of ['http://evil.example', 'http://localhost:3200', 'null']) {
      const foreign = await fetch(`${api.url}/codec/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      expect({ origin, allowed: foreign.headers.get('access-control-allow-origin') }).toEqual({
        origin,
        allowed: null,
      });
      const answer = await post('/codec/decode', { payloads: [] }, { ...key, origin });
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    }
    // The sign-in page is for the API's own origin: no CORS there.
    const login = await fetch(`${api.url}/codec/login`, { headers: { origin: UI_ORIGIN } });
    expect(login.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('without keys, and with PAYLOAD_ENCRYPTION=off, hands payloads through (decode still reads old ones when off)', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(PAYMENT)]);
    const payloads = samples();

    const clear = await listen(createApp({ db, temporal, config: loadConfig({ ADMIN_API_KEY: ADMIN_KEY }), logger }));
    try {
      const enc = await call(clear.url, 'POST', '/codec/encode', { body: { payloads }, headers: key });
      expect(enc.body.payloads).toEqual(payloads);
      const dec = await call(clear.url, 'POST', '/codec/decode', { body: { payloads }, headers: key });
      expect(dec.body.payloads).toEqual(payloads);
      // Without keys nothing is decrypted either: an encrypted payload comes back encrypted (the UI shows it so).
      const still = await call(clear.url, 'POST', '/codec/decode', {
        body: { payloads: [payloadToJSON(encrypted!)] },
        headers: key,
      });
      expect(still.body.payloads).toEqual([payloadToJSON(encrypted!)]);
    } finally {
      await clear.close();
    }

    const offConfig = loadConfig({
      ADMIN_API_KEY: ADMIN_KEY,
      PAYLOAD_ENCRYPTION: 'off',
      PAYLOAD_ENCRYPTION_KEYS: `k2:${current}`,
    });
    const off = await listen(createApp({ db, temporal, config: offConfig, logger }));
    try {
      const enc = await call(off.url, 'POST', '/codec/encode', { body: { payloads }, headers: key });
      expect(enc.body.payloads).toEqual(payloads);
      const dec = await call(off.url, 'POST', '/codec/decode', {
        body: { payloads: [payloadToJSON(encrypted!)] },
        headers: key,
      });
      expect(dec.body.payloads).toEqual([samples()[0]]);
    } finally {
      await off.close();
    }
  });

  it('in Chromium: signed in at /codec/login, a page of another origin of the same site decodes with credentials', async () => {
    const executablePath = readToolchain().chromium;
    if (!executablePath) throw new Error('no Chromium: run the tests through npm test (bootstrap installs it)');
    // A stand-in for the Web UI: a page on another port of localhost that calls the codec as data-encoder.ts does.
    const ui = express();
    ui.get('/', (_req, res) => {
      res.type('html').send('<!doctype html><title>ui</title>');
    });
    const uiServer = await listen(ui);
    const uiOrigin = uiServer.url.replace('127.0.0.1', 'localhost');
    const browserConfig = loadConfig({
      ADMIN_API_KEY: ADMIN_KEY,
      PAYLOAD_ENCRYPTION_KEYS: `k2:${current}`,
      CODEC_CORS_ORIGINS: uiOrigin,
    });
    const codecApi = await listen(createApp({ db, temporal, config: browserConfig, logger }));
    const endpoint = `${codecApi.url.replace('127.0.0.1', 'localhost')}/codec`;
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(PAYMENT)]);
    const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const decodeFromUi = () =>
        page.evaluate(
          async ({ url, payloads }) => {
            const res = await fetch(`${url}/decode?preserveStorageRefs=true`, {
              method: 'POST',
              credentials: 'include',
              headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' },
              body: JSON.stringify({ payloads }),
            });
            return { status: res.status, body: (await res.json()) as unknown };
          },
          { url: endpoint, payloads: [payloadToJSON(encrypted!)] },
        );
      await page.goto(`${uiOrigin}/`);
      const before = await decodeFromUi();
      expect(before.status).toBe(401);

      await page.goto(`${endpoint}/login`);
      await page.fill('#key', 'wrong-key-for-sure');
      await page.click('button[type=submit]');
      await expect(page.locator('.error').textContent()).resolves.toMatch(/not the admin API key/);
      await page.fill('#key', ADMIN_KEY);
      await page.click('button[type=submit]');
      await expect(page.locator('.ok').textContent()).resolves.toMatch(/Signed in until/);
      const cookies = await page.context().cookies(endpoint);
      expect(cookies).toEqual([
        expect.objectContaining({ name: CODEC_SESSION_COOKIE, httpOnly: true, sameSite: 'Lax', path: '/codec' }),
      ]);

      await page.goto(`${uiOrigin}/`);
      const after = await decodeFromUi();
      expect(after).toEqual({ status: 200, body: { payloads: [samples()[0]] } });
      // Scripts cannot read the cookie, not even on the API's own origin.
      await page.goto(`${endpoint}/login`);
      expect(await page.evaluate('document.cookie')).toBe('');

      await page.click('button[type=submit]'); // sign out
      await expect(page.locator('.ok').textContent()).resolves.toMatch(/Signed out/);
      await page.goto(`${uiOrigin}/`);
      expect((await decodeFromUi()).status).toBe(401);
    } finally {
      await browser.close();
      await codecApi.close();
      await uiServer.close();
    }
  });

  it('serves the real temporal CLI: workflow show --codec-endpoint ... --codec-auth "Bearer <key>" shows the input', async () => {
    const cli = readToolchain().temporalCli;
    if (!cli) throw new Error('no Temporal CLI: run the tests through npm test (bootstrap installs it)');
    // A workflow started by a client with our codec, never run (no worker): its input is in history, encrypted.
    const connection = await Connection.connect({ address: devServerAddress() });
    const workflowId = `codec-cli-${randomUUID()}`;
    try {
      const client = new Client({ connection, dataConverter: { payloadCodecs: [codec] } });
      const handle = await client.workflow.start('noSuchWorkflow', {
        taskQueue: `codec-cli-${randomUUID()}`,
        workflowId,
        args: [PAYMENT],
      });
      const show = (...extra: string[]) =>
        promisify(execFile)(cli, [
          'workflow',
          'show',
          '--address',
          devServerAddress(),
          '--workflow-id',
          workflowId,
          '--output',
          'json',
          ...extra,
        ]);
      const input = (stdout: string) => {
        const history = JSON.parse(stdout) as {
          events: { workflowExecutionStartedEventAttributes?: { input: { payloads: JSONPayload[] } } }[];
        };
        return history.events[0]!.workflowExecutionStartedEventAttributes!.input.payloads[0]!;
      };
      const raw = input((await show()).stdout);
      expect(raw.metadata).toMatchObject({ encoding: b64('binary/encrypted'), 'encryption-key-id': b64('k2') });
      const decoded = input(
        (await show('--codec-endpoint', `${api.url}/codec`, '--codec-auth', `Bearer ${ADMIN_KEY}`)).stdout,
      );
      expect(decoded).toEqual(samples()[0]);
      expect(defaultPayloadConverter.fromPayload(JSONToPayload(decoded))).toEqual(PAYMENT);
      // Without the key the codec answers 401: the CLI retries it until its deadline and fails, showing nothing.
      await expect(show('--codec-endpoint', `${api.url}/codec`)).rejects.toThrow(/failed getting next history event/);
      await handle.terminate('test done');
    } finally {
      await connection.close();
    }
  });

  it('reads CODEC_CORS_ORIGINS as origins only, and answers other methods on the codec paths with 405', async () => {
    expect(
      loadConfig({ CODEC_CORS_ORIGINS: 'http://ui.example:8080, https://temporal.example' }).api.codecCorsOrigins,
    ).toEqual(['http://ui.example:8080', 'https://temporal.example']);
    for (const bad of [
      '*',
      'http://localhost:8233/',
      'http://localhost:8233/ui',
      'localhost:8233',
      'ftp://x.example',
    ]) {
      expect(() => loadConfig({ CODEC_CORS_ORIGINS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ CODEC_CORS_ORIGINS: bad })).toThrow(/CODEC_CORS_ORIGINS: .* is not an origin/);
    }
    const get = await fetch(`${api.url}/codec/decode`, { headers: key });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
  });
});
