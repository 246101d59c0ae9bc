// The local load balancer in front of the API replicas: what nginx's `upstream` block with `proxy_next_upstream error
// timeout` does in production (docker-compose, a cloud LB), as one small Node process the stack launcher supervises.
//
// - Round-robin per request over the upstreams that are not marked down.
// - A failure to *connect* (refused, unreachable, connect timeout) means the request never reached that replica: the
//   next one is tried, and the failed one is marked down for `downMs` (passive health: the next requests skip it).
//   Request bodies are buffered (at most `maxBodyBytes`, else 413) so they can be sent again.
// - A failure after the request was sent (the replica died or reset mid-way) is never retried, since the request may
//   have had an effect: 502 if no response had started, else the client's response is aborted. One exception: a GET
//   (HEAD, OPTIONS) written to a kept-alive connection the replica had already dropped is tried on the next one.
// - Responses stream through unbuffered (the push stream, Server-Sent Events, is a response that never ends), and a
//   client that goes away closes its upstream request.
//
// Hand-written on node:http rather than on a proxy library: `http-proxy` is unmaintained since 2020; its rewrite
// `http-proxy-3` needs Node 22 from 2.x, and its 1.x error path tells neither whether the upstream was reached nor
// undoes the X-Forwarded-* it appends to the request (a retry would repeat them), and leaves the client hanging when
// the upstream dies mid-response; `httpxy` is ESM-only (this project builds CommonJS); `@fastify/reply-from` needs
// Fastify; undici's BalancedPool weighs upstreams but never moves a request to another. The part each of them would
// save (copying headers, piping) is the few lines of `forward` below; choosing, retrying and health is ours anyway.
// Not handled: protocol upgrades (WebSocket); the API has none, and Node closes such a connection.
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';

/** What the balancer logs through (the process's pino logger). */
export interface BalancerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface BalancerOptions {
  /** The API replicas, e.g. http://127.0.0.1:3001. */
  upstreams: string[];
  /** Told when an upstream goes down and when it comes back; nothing else (no payloads, no headers). */
  logger?: BalancerLogger;
  /** How long a replica that refused a connection is skipped (nginx's fail_timeout). */
  downMs?: number;
  /** How long connecting to a replica may take before the next one is tried. */
  connectTimeoutMs?: number;
  /** The largest request body buffered for a resend; a larger one is answered 413. */
  maxBodyBytes?: number;
}

export const BALANCER_HEALTH_PATH = '/balancer/health';

/** Connection-level headers (RFC 9110 §7.6.1): they describe one hop and are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Errors that happen before a connection exists: the request cannot have reached the upstream. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
]);

interface Upstream {
  url: URL;
  name: string;
  /** Skipped until then (0: not marked down). */
  downUntil: number;
  /** The last connection attempt failed: stays true until one succeeds (for the log's "back" line and health). */
  failing: boolean;
}

class ConnectFailed extends Error {}

/** Methods whose repetition has the effect of one (RFC 9110, 9.2.2): retried on a stale kept-alive connection. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
/** How writing to a connection the other side has closed fails. */
const STALE_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

export function createBalancer(options: BalancerOptions): Server {
  const downMs = options.downMs ?? 2000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const logger = options.logger;
  if (options.upstreams.length === 0) throw new Error('createBalancer: no upstreams');
  const upstreams: Upstream[] = options.upstreams.map((u) => {
    const url = new URL(u);
    if (url.protocol !== 'http:') throw new Error(`createBalancer: ${u} is not an http:// URL`);
    return { url, name: url.origin, downUntil: 0, failing: false };
  });
  // Keep-alive to the replicas: a connection per request would leave a TIME_WAIT socket per request on this host.
  // With a `timeout`, Node's agent also honours a replica's `Keep-Alive: timeout=N` hint (it drops an idle connection
  // a second before the replica would), so a request is not sent on a connection the replica is closing. The timeout
  // only closes idle pooled connections: a request in flight (a push stream) is not ended by it.
  const agent = new Agent({ keepAlive: true, timeout: 30_000 });
  let next = 0;

  /** This request's order: round-robin from the next start, the ones marked down last (tried only if all else fails). */
  function candidates(): Upstream[] {
    const start = next++ % upstreams.length;
    const order = [...upstreams.slice(start), ...upstreams.slice(0, start)];
    const now = Date.now();
    return [...order.filter((u) => u.downUntil <= now), ...order.filter((u) => u.downUntil > now)];
  }

  function markDown(upstream: Upstream, code: string): void {
    upstream.downUntil = Date.now() + downMs;
    if (!upstream.failing) logger?.warn({ upstream: upstream.name, code, downMs }, 'upstream down');
    upstream.failing = true;
  }

  function markUp(upstream: Upstream): void {
    upstream.downUntil = 0;
    if (upstream.failing) logger?.info({ upstream: upstream.name }, 'upstream back up');
    upstream.failing = false;
  }

  function forwardedHeaders(req: IncomingMessage, bodyLength: number): IncomingHttpHeaders {
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      // Content-Length is set anew for the buffered body; Expect: 100-continue was answered here already.
      if (!HOP_BY_HOP.has(name) && name !== 'content-length' && name !== 'expect') headers[name] = value;
    }
    const hadBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (hadBody || bodyLength > 0) headers['content-length'] = String(bodyLength);
    // As nginx's $proxy_add_x_forwarded_for: the client's list, then the address we saw. We are the edge, so the
    // protocol and host are ours to state, not the client's.
    const client = req.socket.remoteAddress ?? '';
    const previous = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = previous ? `${String(previous)}, ${client}` : client;
    headers['x-forwarded-proto'] = 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    return headers;
  }

  /**
   * One attempt at one upstream. Rejects with ConnectFailed when no connection could be made (safe to try the next);
   * once connected, it owns the client's response: relays it, or answers 502 / aborts it on failure.
   */
  function forward(upstream: Upstream, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let connected = false;
      let reused = false;
      const upstreamReq = request({
        agent,
        protocol: upstream.url.protocol,
        hostname: upstream.url.hostname,
        port: upstream.url.port,
        method: req.method,
        path: req.url,
        headers: forwardedHeaders(req, body.length),
      });
      const onConnected = () => {
        connected = true;
        markUp(upstream);
      };
      upstreamReq.on('socket', (socket: Socket) => {
        if (!socket.connecting) {
          reused = true; // a kept-alive connection
          return onConnected();
        }
        const timer = setTimeout(() => {
          upstreamReq.destroy(Object.assign(new Error('connect timeout'), { code: 'CONNECT_TIMEOUT' }));
        }, connectTimeoutMs);
        socket.once('connect', () => {
          clearTimeout(timer);
          onConnected();
        });
        socket.once('close', () => clearTimeout(timer));
      });
      // The client went away before its response ended: nothing more to fetch for it.
      res.once('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
      upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
        const code = err.code ?? 'ERROR';
        if (!connected && CONNECT_ERRORS.has(code)) {
          markDown(upstream, code);
          return reject(new ConnectFailed(code));
        }
        // A kept-alive connection the replica had dropped (it was SIGKILLed a moment ago) fails as soon as it is
        // written to. For an idempotent request with no response yet, that is no different from a refused
        // connection: HTTP lets a client retry it (RFC 9110, 9.2.2), as browsers and nginx do. A POST is not retried.
        if (reused && !res.headersSent && IDEMPOTENT.has(req.method ?? '') && STALE_CONNECTION.has(code)) {
          markDown(upstream, code);
          return reject(new ConnectFailed(code));
        }
        // Reached the upstream, then failed before its response: not retried.
        if (!res.headersSent && !res.destroyed) badGateway(res);
        resolve();
      });
      upstreamReq.on('response', (upstreamRes) => {
        const headers: string[] = [];
        const raw = upstreamRes.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) {
          if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
        }
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, headers);
        res.flushHeaders();
        // A failure on either side destroys the other: an upstream reset aborts the client's response, a client
        // that leaves closes the upstream connection.
        pipeline(upstreamRes, res, () => resolve());
      });
      upstreamReq.end(body);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // For operators (and the stack launcher): the balancer's own view of the replicas, not the replicas' health.
    if (req.method === 'GET' && req.url === BALANCER_HEALTH_PATH) {
      const now = Date.now();
      return json(res, 200, {
        upstreams: upstreams.map((u) => ({ url: u.name, up: !u.failing && u.downUntil <= now })),
      });
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === 'aborted') return;
    if (body === 'too-large') {
      res.shouldKeepAlive = false;
      return json(res, 413, {
        error: 'payload_too_large',
        message: `request body is over ${maxBodyBytes} bytes`,
      });
    }
    for (const upstream of candidates()) {
      if (res.destroyed) return;
      try {
        return await forward(upstream, req, res, body);
      } catch (err) {
        if (!(err instanceof ConnectFailed)) throw err;
      }
    }
    badGateway(res);
  }

  return createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) badGateway(res);
      else res.destroy();
    });
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function badGateway(res: ServerResponse): void {
  json(res, 502, { error: 'bad_gateway', message: 'no API replica answered' });
}

/** The whole request body, unless it is over `max` bytes or the client leaves first. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large' | 'aborted'> {
  if (Number(req.headers['content-length'] ?? 0) > max) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too-large');
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', () => resolve('aborted'));
    req.once('close', () => {
      if (!req.complete) resolve('aborted');
    });
  });
}
