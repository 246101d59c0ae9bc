// The local load balancer (scripts/stack/balancer.ts) in front of real HTTP servers standing in for the API replicas:
// round-robin, failover to the next replica when one refuses connections (the request body sent again), push streams
// relayed event by event, no retry once a request has reached a replica, and 502 when none answers.
import { execFile, spawn } from 'node:child_process';
import { createServer, get, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type BalancerOptions, createBalancer } from '../../scripts/stack/balancer';
import { freePort } from '../../scripts/stack/net';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'scripts', 'stack', 'balancer-main.ts');

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function listen(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A replica that answers `{ replica, body }` and records what it was sent. */
async function replica(name: string, port?: number): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ replica: name, body }));
    });
  });
  return { url: await listen(server, port), seen };
}

/** A replica with its own handler, counting the requests it receives. */
async function replicaWith(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const counter = { requests: 0 };
  const server = createServer((req, res) => {
    counter.requests++;
    handler(req, res);
  });
  return { url: await listen(server), counter };
}

/** A port nothing listens on: connecting to it is refused. */
async function closedUpstream(): Promise<{ url: string; port: number }> {
  const port = await freePort();
  return { url: `http://127.0.0.1:${port}`, port };
}

interface LogLine {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  message: string;
}

async function balancer(upstreams: string[], options: Partial<BalancerOptions> = {}) {
  const logs: LogLine[] = [];
  const server = createBalancer({
    upstreams,
    logger: {
      info: (fields, message) => logs.push({ level: 'info', fields: fields as Record<string, unknown>, message }),
      warn: (fields, message) => logs.push({ level: 'warn', fields: fields as Record<string, unknown>, message }),
    },
    ...options,
  });
  return { url: await listen(server), logs };
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Resolves once `check` passes, polling every 20 ms for at most `ms`. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the local load balancer', () => {
  it('sends requests to the replicas in turn, keeping Host and adding the X-Forwarded headers', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const lb = await balancer([a.url, b.url]);

    const answered: unknown[] = [];
    for (let i = 0; i < 6; i++) answered.push((await getJson(`${lb.url}/payments/p${i}?x=1`)).body.replica);

    expect(answered).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(a.seen.map((s) => s.url)).toEqual(['/payments/p0?x=1', '/payments/p2?x=1', '/payments/p4?x=1']);
    const { headers } = a.seen[0]!;
    const balancerHost = new URL(lb.url).host;
    expect(headers.host).toBe(balancerHost);
    expect(headers['x-forwarded-host']).toBe(balancerHost);
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('appends the client address to an X-Forwarded-For it was sent', async () => {
    const a = await replica('a');
    const lb = await balancer([a.url]);
    await getJson(`${lb.url}/x`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(a.seen[0]!.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
  });

  it('answers every request from the other replica when one refuses connections, a POST body included', async () => {
    const down = await closedUpstream();
    const b = await replica('b');
    const lb = await balancer([down.url, b.url]);

    for (let i = 0; i < 4; i++) {
      const { status, body } = await getJson(`${lb.url}/payments/p${i}`);
      expect([status, body.replica]).toEqual([200, 'b']);
    }
    const payment = JSON.stringify({ orderId: 'o-1', amount: 8800, currency: 'CNY', channel: 'sandboxpay' });
    const posted = await getJson(`${lb.url}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' },
      body: payment,
    });
    expect(posted).toEqual({ status: 200, body: { replica: 'b', body: payment } });
    const post = b.seen.find((s) => s.method === 'POST')!;
    expect(post.headers['content-length']).toBe(String(Buffer.byteLength(payment)));
    expect(post.headers['idempotency-key']).toBe('k-1');

    expect((await getJson(`${lb.url}/balancer/health`)).body).toEqual({
      upstreams: [
        { url: down.url, up: false },
        { url: b.url, up: true },
      ],
    });
    // One line when it went down, however many requests found it down; no payloads or headers in it.
    const downLines = lb.logs.filter((l) => l.message === 'upstream down');
    expect(downLines).toHaveLength(1);
    expect(downLines[0]!.fields).toEqual({ upstream: down.url, code: 'ECONNREFUSED', downMs: 2000 });
  });

  it('tries a replica again once its down time is over, and says when it is back', async () => {
    const down = await closedUpstream();
    const b = await replica('b');
    const lb = await balancer([down.url, b.url], { downMs: 1000 });

    expect((await getJson(`${lb.url}/x`)).body.replica).toBe('b');
    const restarted = await replica('a', down.port); // the replica restarts on its port
    // While it is marked down it is skipped, even on its own turn and although it would answer by now.
    expect((await getJson(`${lb.url}/x`)).body.replica).toBe('b');
    expect((await getJson(`${lb.url}/x`)).body.replica).toBe('b');
    expect(restarted.seen).toHaveLength(0);

    await new Promise((r) => setTimeout(r, 1100));
    const answered = [];
    for (let i = 0; i < 4; i++) answered.push((await getJson(`${lb.url}/x`)).body.replica);
    expect(answered).toEqual(['b', 'a', 'b', 'a']);
    expect(restarted.seen).toHaveLength(2);
    expect(lb.logs.map((l) => [l.level, l.message, l.fields.upstream])).toEqual([
      ['warn', 'upstream down', down.url],
      ['info', 'upstream back up', down.url],
    ]);
    expect((await getJson(`${lb.url}/balancer/health`)).body.upstreams).toEqual([
      { url: down.url, up: true },
      { url: b.url, up: true },
    ]);
  });

  it('relays a push stream event by event, and closes the replica side when the client leaves', async () => {
    let releaseSecond!: () => void;
    const secondMayGo = new Promise<void>((resolve) => (releaseSecond = resolve));
    let upstreamClosed!: () => void;
    const closedOnReplica = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const sse = await replicaWith((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('id: 1\ndata: {"status":"PAYING"}\n\n');
      res.on('close', () => upstreamClosed());
      void secondMayGo.then(() => {
        res.write('id: 2\ndata: {"status":"SUCCESS"}\n\n');
        if (req.url!.endsWith('?end')) res.end();
      });
    });
    const lb = await balancer([sse.url]);

    // The first event arrives while the replica still holds the response open.
    const stream = await openStream(`${lb.url}/payments/p1/events?end`);
    expect(stream.res.statusCode).toBe(200);
    expect(stream.res.headers['content-type']).toBe('text/event-stream');
    await stream.waitFor('"PAYING"');
    expect(stream.text()).not.toContain('SUCCESS');
    releaseSecond();
    await stream.ended;
    expect(stream.text()).toBe('id: 1\ndata: {"status":"PAYING"}\n\nid: 2\ndata: {"status":"SUCCESS"}\n\n');

    // A buyer who closes the page: the replica's response is closed too (it stops pushing to nobody).
    const leaving = await openStream(`${lb.url}/payments/p2/events`);
    await leaving.waitFor('"PAYING"');
    leaving.req.destroy();
    await closedOnReplica;
  });

  it('does not send a request again once it reached a replica that then reset mid-response', async () => {
    const resetting = await replicaWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"status":"PAY');
      setTimeout(() => res.socket!.destroy(), 50);
    });
    const other = await replica('other');
    const lb = await balancer([resetting.url, other.url]);

    const error = await new Promise<Error>((resolve, reject) => {
      const req = request(`${lb.url}/payments`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('response', (res) => {
        res.on('data', () => undefined);
        res.on('end', () => reject(new Error('the response ended normally')));
        res.on('error', resolve);
      });
      req.on('error', resolve);
      req.end('{"orderId":"o-2"}');
    });
    expect(error.message).toMatch(/aborted|socket hang up|ECONNRESET/);
    expect(resetting.counter.requests).toBe(1);
    expect(other.seen).toHaveLength(0);
  });

  it('answers 502 without retrying when a replica resets before answering', async () => {
    const resetting = await replicaWith((req) => {
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    const other = await replica('other');
    const lb = await balancer([resetting.url, other.url]);

    const res = await getJson(`${lb.url}/payments`, { method: 'POST', body: '{"orderId":"o-3"}' });
    expect(res).toEqual({ status: 502, body: { error: 'bad_gateway', message: 'no API replica answered' } });
    expect(resetting.counter.requests).toBe(1);
    expect(other.seen).toHaveLength(0);
  });

  it('tries a GET on the next replica when its kept-alive connection to one was dropped, but not a POST', async () => {
    // The first request on each connection is answered (kept alive); the next one on it finds the replica gone.
    let posted = 0;
    const dropping = await replicaWith((req, res) => {
      req.resume();
      const socket = req.socket as typeof req.socket & { served?: boolean };
      if (socket.served) return void socket.destroy();
      socket.served = true;
      if (req.method === 'POST') posted++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"replica":"dropping"}');
    });
    const other = await replica('other');
    const lb = await balancer([dropping.url, other.url]);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await getJson(`${lb.url}/payments/p-1`));
    expect(answers.map((a) => [a.status, (a.body as { replica: string }).replica])).toEqual([
      [200, 'dropping'],
      [200, 'other'],
      [200, 'other'], // the third was dropping's turn, on the connection it had dropped: passed on
    ]);
    expect(dropping.counter.requests).toBe(2);

    // The same with a POST: it may have had an effect, so it is answered 502, not sent to the other replica.
    const lb2 = await balancer([dropping.url, other.url]);
    const before = other.seen.length;
    expect((await getJson(`${lb2.url}/payments`, { method: 'POST', body: '{}' })).status).toBe(200);
    expect((await getJson(`${lb2.url}/healthz`)).status).toBe(200);
    const third = await getJson(`${lb2.url}/payments`, { method: 'POST', body: '{"orderId":"o-4"}' });
    expect(third.status).toBe(502);
    expect(posted).toBe(1);
    expect(other.seen.length - before).toBe(1); // only the GET
  });

  it('answers 502 JSON when no replica accepts a connection', async () => {
    const lb = await balancer([(await closedUpstream()).url, (await closedUpstream()).url]);
    const res = await fetch(`${lb.url}/payments`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ error: 'bad_gateway', message: 'no API replica answered' });
  });

  it('answers 413 to a body over the limit it can buffer, without reaching a replica', async () => {
    const a = await replica('a');
    const lb = await balancer([a.url], { maxBodyBytes: 1024 });
    const ok = await getJson(`${lb.url}/payments`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(ok.status).toBe(200);
    const tooLarge = await getJson(`${lb.url}/payments`, { method: 'POST', body: 'x'.repeat(1025) });
    expect(tooLarge).toEqual({
      status: 413,
      body: { error: 'payload_too_large', message: 'request body is over 1024 bytes' },
    });
    expect(a.seen).toHaveLength(1);
  });
});

describe('the balancer process', () => {
  const run = promisify(execFile);

  it('exits 2 naming BALANCER_UPSTREAMS when it is not a list of http:// origins', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, BALANCER_PORT: '8080', BALANCER_UPSTREAMS: 'http://127.0.0.1:3001,ftp://api' },
    }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain(
      'BALANCER_UPSTREAMS: entry 2 "ftp://api" is not an origin such as http://127.0.0.1:3001',
    );
  });

  it('serves on BALANCER_PORT in front of BALANCER_UPSTREAMS and stops on SIGTERM', async () => {
    const a = await replica('a');
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, BALANCER_PORT: String(port), BALANCER_UPSTREAMS: a.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    closers.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    await eventually(() => output.includes('balancer listening'), 30_000);

    expect((await getJson(`http://127.0.0.1:${port}/payments/p1`)).body.replica).toBe('a');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

/** A streaming GET read chunk by chunk, as a browser's EventSource would. */
async function openStream(url: string) {
  const chunks: string[] = [];
  const listeners: (() => void)[] = [];
  let req!: ReturnType<typeof get>;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req = get(url, { headers: { accept: 'text/event-stream' } }, resolve);
    req.on('error', reject);
  });
  res.setEncoding('utf8');
  res.on('data', (c: string) => {
    chunks.push(c);
    listeners.forEach((l) => l());
  });
  res.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => res.on('end', resolve));
  const text = () => chunks.join('');
  return {
    req,
    res,
    ended,
    text,
    waitFor: (fragment: string) =>
      new Promise<void>((resolve) => {
        if (text().includes(fragment)) return resolve();
        listeners.push(() => text().includes(fragment) && resolve());
      }),
  };
}
