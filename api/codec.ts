// The codec server: Temporal's remote codec contract over this service's own payload codec (codec/), so the Temporal
// Web UI and the `temporal` CLI show the payment data that is encrypted in Temporal's history. The contract (Temporal's
// docs, "Codec Server"; the Web UI's src/lib/services/data-encoder.ts; the Go SDK's remote codec the CLI uses):
//   POST {endpoint}/encode and POST {endpoint}/decode, body {"payloads":[Payload...]} in protobuf JSON (metadata
//   values and data base64), the namespace in X-Namespace; the answer is {"payloads":[...]} in the same form.
// The namespace is not checked: these are the keys of this deployment, whichever namespace a payload comes from.
//
// Which codec: the one every client and worker of ours uses, from the same configuration (dataConverterFor). Without
// keys there is none, and both operations hand payloads back as they came (what Temporal stores is then in clear
// anyway); with PAYLOAD_ENCRYPTION=off and keys listed, decode still decrypts and encode passes payloads through. A
// payload that cannot be decrypted (its key is not configured, or it fails authentication) answers the request 422
// naming the key id and the payload's index: the Web UI then shows that request's payloads still encoded.
//
// Who may call it: whoever holds the admin key (ADMIN_API_KEY), as X-Api-Key or `Authorization: Bearer <key>` (the
// CLI's --codec-auth sends its value as the Authorization header), or a browser signed in at /codec/login: the Web
// UI calls from another origin of the same site (http://localhost:8233 -> http://localhost:3000) and sends the
// session cookie when its codec setting "include cross-origin credentials" is on. The cookie holds an HMAC of its
// expiry under a key derived from the admin key, never the key itself: changing ADMIN_API_KEY ends every session.
// Anything else is a JSON 401. CORS allows the Web UI's origins (CODEC_CORS_ORIGINS) with credentials.
//
// Payload bytes are never logged: the request log has the method, path and status only (api/app.ts).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { JSONToPayload, payloadToJSON } from '@temporalio/common/lib/proto-utils';
import { parse as parseCookies } from 'cookie';
import cors from 'cors';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { dataConverterFor } from '../codec/data-converter';
import { PayloadDecryptionError } from '../codec/encryption-codec';
import type { Config } from '../config';
import { HttpError, InputError, UnsupportedMediaTypeError } from './errors';
import { codecBody, codecLoginBody } from './schemas';
import { parse } from './validation';

export const CODEC_SESSION_COOKIE = 'codec_session';
/** How long a sign-in at /codec/login lasts (a working day). */
export const CODEC_SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/**
 * The largest codec request: a payload may be up to Temporal's 2 MB blob limit, base64 makes it 2.7 MB, and one
 * request can carry several. Parsed only once the caller has shown a credential.
 */
export const CODEC_BODY_LIMIT = '10mb';
/** What the Web UI sends (data-encoder.ts), plus our own X-Api-Key. */
export const CODEC_CORS_HEADERS = ['content-type', 'x-namespace', 'authorization', 'authorization-extras', 'x-api-key'];

export interface CodecRouterDeps {
  config: Pick<Config, 'api' | 'payloadEncryption'>;
  /** For tests: the clock the sessions are issued and checked by. */
  now?: () => number;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The admin key, compared in constant time, and the session tokens derived from it. */
class CodecCredentials {
  private readonly keyDigest: Buffer;
  private readonly sessionKey: Buffer;

  constructor(adminApiKey: string) {
    this.keyDigest = sha256(adminApiKey);
    this.sessionKey = createHmac('sha256', adminApiKey).update('payments codec session v1').digest();
  }

  isAdminKey(given: string | undefined): boolean {
    // Digests of equal length: neither the key's length nor its first differing byte shows in the time taken.
    return given !== undefined && given !== '' && timingSafeEqual(sha256(given), this.keyDigest);
  }

  private mac(expiresAt: number): string {
    return createHmac('sha256', this.sessionKey).update(`codec-session:${expiresAt}`).digest('base64url');
  }

  /** A session token: `<expiry, seconds since the epoch>.<HMAC of it>`. */
  issue(now: number): { token: string; expiresAt: Date } {
    const expiresAt = Math.floor((now + CODEC_SESSION_TTL_MS) / 1000);
    return { token: `${expiresAt}.${this.mac(expiresAt)}`, expiresAt: new Date(expiresAt * 1000) };
  }

  /** When a genuine, unexpired token expires; undefined for anything else. */
  check(token: string | undefined, now: number): Date | undefined {
    const match = /^([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token ?? '');
    if (!match) return undefined;
    const expiresAt = Number(match[1]);
    const expected = Buffer.from(this.mac(expiresAt));
    const given = Buffer.from(match[2]!);
    if (!timingSafeEqual(given, expected)) return undefined;
    // Expired, or further out than any token this process issues (a key shared with another deployment's setting).
    if (expiresAt * 1000 <= now || expiresAt * 1000 > now + CODEC_SESSION_TTL_MS + 60_000) return undefined;
    return new Date(expiresAt * 1000);
  }
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  return match?.[1];
}

function unauthorized(): HttpError {
  return new HttpError(
    401,
    'unauthorized',
    'send the admin API key as X-Api-Key or "Authorization: Bearer <key>", or sign in at /codec/login',
    undefined,
    { 'www-authenticate': 'Bearer realm="payments codec"' },
  );
}

/** Payloads through the codecs in order (encode), or in reverse order (decode), as the SDK applies them. */
async function encodeAll(codecs: PayloadCodec[], payloads: Payload[]): Promise<Payload[]> {
  let out = payloads;
  for (const codec of codecs) out = await codec.encode(out);
  return out;
}

async function decodeAll(codecs: PayloadCodec[], payloads: Payload[]): Promise<Payload[]> {
  const decoded: Payload[] = [];
  // One at a time, so an answer can say which payload could not be decrypted.
  for (const [index, payload] of payloads.entries()) {
    let out = [payload];
    try {
      for (const codec of [...codecs].reverse()) out = await codec.decode(out);
    } catch (err) {
      if (!(err instanceof PayloadDecryptionError)) throw err;
      throw new HttpError(422, 'payload_not_decryptable', err.message, {
        payload: index,
        ...(err.keyId ? { keyId: err.keyId } : {}),
      });
    }
    decoded.push(...out);
  }
  return decoded;
}

export function createCodecRouter(deps: CodecRouterDeps): Router {
  const now = deps.now ?? Date.now;
  const codecs = dataConverterFor(deps.config)?.payloadCodecs ?? [];
  const credentials = new CodecCredentials(deps.config.api.adminApiKey);
  const secureCookie = deps.config.api.publicUrl.startsWith('https://');
  const endpoint = `${deps.config.api.publicUrl}/codec`;
  const router = Router();

  const sessionExpiry = (req: Request) =>
    credentials.check(parseCookies(req.get('cookie') ?? '')[CODEC_SESSION_COOKIE], now());

  const authenticated = (req: Request, _res: Response, next: NextFunction) => {
    const ok =
      credentials.isAdminKey(req.get('x-api-key')) ||
      credentials.isAdminKey(bearerToken(req.get('authorization'))) ||
      sessionExpiry(req) !== undefined;
    next(ok ? undefined : unauthorized());
  };

  // The Web UI's origins may call encode and decode with credentials (the session cookie); preflights are answered
  // here. Other origins get no Access-Control-Allow-Origin: their browsers refuse to send or to read.
  router.use(
    ['/encode', '/decode'],
    cors({
      origin: deps.config.api.codecCorsOrigins,
      credentials: true,
      methods: ['POST'],
      allowedHeaders: CODEC_CORS_HEADERS,
      maxAge: 600,
    }),
  );

  for (const operation of ['encode', 'decode'] as const) {
    router.post(
      `/${operation}`,
      authenticated,
      (req: Request, _res: Response, next: NextFunction) => {
        next(
          req.is('application/json') ? undefined : new UnsupportedMediaTypeError('send the body as application/json'),
        );
      },
      express.json({ limit: CODEC_BODY_LIMIT, strict: true }),
      async (req: Request, res: Response) => {
        const { payloads: given } = parse(codecBody, req.body, 'body');
        const payloads = given.map((json, i) => {
          try {
            return JSONToPayload(json);
          } catch {
            throw new InputError('invalid body', [
              { field: `body.payloads.${i}`, message: 'not a temporal.api.common.v1.Payload in protobuf JSON' },
            ]);
          }
        });
        const out = operation === 'encode' ? await encodeAll(codecs, payloads) : await decodeAll(codecs, payloads);
        res.set('cache-control', 'no-store').json({ payloads: out.map((p) => payloadToJSON(p)) });
      },
    );
  }

  // ---- Signing in a browser for the Web UI -----------------------------------------------------------------------
  const page = (res: Response, status: number, body: string) => {
    res
      .status(status)
      .set({
        'content-security-policy': PAGE_CSP,
        'cache-control': 'no-store',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      })
      .type('html')
      .send(loginPage(endpoint, body));
  };
  const cookieOptions = (req: Request) => ({
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: secureCookie,
    path: req.baseUrl || '/codec',
  });

  router.get('/login', (req, res) => {
    const expiresAt = sessionExpiry(req);
    page(res, 200, expiresAt ? signedIn(expiresAt) : signInForm());
  });

  router.post(
    '/login',
    (req: Request, _res: Response, next: NextFunction) => {
      next(
        req.is(['application/x-www-form-urlencoded', 'application/json'])
          ? undefined
          : new UnsupportedMediaTypeError('send the form (application/x-www-form-urlencoded) or application/json'),
      );
    },
    // Room for the longest key the document allows (1024 characters of 4 UTF-8 bytes, percent-encoded): 400, not 413.
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 }),
    express.json({ limit: '16kb', strict: true }),
    (req, res) => {
      const { key } = parse(codecLoginBody, req.body ?? {}, 'body');
      if (!credentials.isAdminKey(key)) {
        page(res, 401, signInForm('That is not the admin API key.'));
        return;
      }
      const { token, expiresAt } = credentials.issue(now());
      res.cookie(CODEC_SESSION_COOKIE, token, { ...cookieOptions(req), expires: expiresAt });
      page(res, 200, signedIn(expiresAt));
    },
  );

  router.post('/logout', (req, res) => {
    res.clearCookie(CODEC_SESSION_COOKIE, cookieOptions(req));
    page(res, 200, `<p class="ok">Signed out.</p>${signInForm()}`);
  });

  return router;
}

// ---- The page: no script, no external resource -----------------------------------------------------------------

const PAGE_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}' +
  'input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}button{font:inherit;padding:.4rem 1rem;margin-top:.5rem}' +
  '.error{color:#b00020}.ok{color:#1b5e20}code{background:#f1f1f4;padding:0 .2rem}';
const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function signInForm(error?: string): string {
  return (
    (error ? `<p class="error" role="alert">${error}</p>` : '') +
    '<form method="post" action="login">' +
    '<label for="key">Admin API key</label>' +
    '<input id="key" name="key" type="password" autocomplete="current-password" required maxlength="1024" autofocus>' +
    '<button type="submit">Sign in</button></form>'
  );
}

function signedIn(expiresAt: Date): string {
  return (
    `<p class="ok">Signed in until ${expiresAt.toISOString()}. The Web UI can decode payloads now; reload its page.</p>` +
    '<form method="post" action="logout"><button type="submit">Sign out</button></form>'
  );
}

function loginPage(endpoint: string, body: string): string {
  const safeEndpoint = endpoint.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Payments codec server</title><style>${PAGE_STYLE}</style></head>
<body><h1>Payments codec server</h1>
<p>The Temporal Web UI shows encrypted payment payloads through this codec server. Sign in with the admin API key:
this browser then keeps a session cookie for 8 hours (HttpOnly, sent only to <code>/codec</code>).</p>
<p>In the Web UI, set the codec server endpoint to <code>${safeEndpoint}</code> and turn on
<em>Include cross-origin credentials</em>. Open the Web UI by the same host name as this page (localhost and 127.0.0.1
are different sites to a browser).</p>
${body}
</body></html>
`;
}
