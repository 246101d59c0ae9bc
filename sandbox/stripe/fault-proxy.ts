// Fault injection for the Stripe channel, which localstripe has none of: an HTTP proxy on both of its sides.
//
//   adapter --> [api side]     --> localstripe   queries (GET /v1/payment_intents/...) fail with Stripe's 500, hang,
//                                                 or are slow; everything else passes untouched
//   localstripe --> [webhook side] --> our API   webhooks are dropped, delayed (and so reordered) or delivered twice
//
// The faults and their names are the wallet's (sandbox/wallet.ts WalletFaults) where they apply, and every decision is
// a hash of (seed, fault, key) (sandbox/chance.ts): the same seed makes the same payment suffer the same faults
// whatever order requests arrive in. localstripe never retries a webhook, so a dropped one is lost for good.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Chance } from '../chance';
import { NO_FAULTS, notificationFate, type WalletFaults } from '../wallet';

export type StripeProxyFaults = Pick<
  WalletFaults,
  | 'queryErrorRate'
  | 'queryTimeoutRate'
  | 'queryTimeoutMs'
  | 'queryLatencyMs'
  | 'callbackDropRate'
  | 'callbackDuplicateRate'
  | 'callbackDelayRate'
  | 'callbackDelayMinMs'
  | 'callbackDelayMaxMs'
>;

export interface StripeFaultProxyOptions {
  /** localstripe's base URL. */
  upstream: string;
  /** Where webhooks go after the webhook side: our API's `/callbacks/stripe` (or later, by setWebhookTarget). */
  webhookTarget?: string;
  seed: string;
  faults?: Partial<StripeProxyFaults>;
  logger: Logger;
}

export interface StripeFaultProxy {
  /** STRIPE_API_URL for our adapter. */
  apiUrl: string;
  /** The URL to register at localstripe as the webhook endpoint. */
  webhookUrl: string;
  setFaults(faults: Partial<StripeProxyFaults>): void;
  /** For a stack whose API starts after its channel doubles. */
  setWebhookTarget(url: string): void;
  /** What was done, for a test or the chaos audit to check against. */
  counts: Record<'queryErrors' | 'queryHangs' | 'dropped' | 'delayed' | 'duplicated' | 'forwarded', number>;
  /** Every webhook handed to our API: for which payment (metadata.payment_id), and our API's HTTP answer. */
  deliveries: { paymentId?: string; eventId?: string; httpStatus: number }[];
  stop(): Promise<void>;
}

const QUERY = /^\/v1\/payment_intents\/([^/?]+)(?:\?|$)/;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startStripeFaultProxy(options: StripeFaultProxyOptions): Promise<StripeFaultProxy> {
  const { logger } = options;
  const chance = new Chance(options.seed);
  const upstream = new URL(options.upstream);
  let faults: StripeProxyFaults = { ...NO_FAULTS, ...options.faults };
  const counts: StripeFaultProxy['counts'] = {
    queryErrors: 0,
    queryHangs: 0,
    dropped: 0,
    delayed: 0,
    duplicated: 0,
    forwarded: 0,
  };
  const timers = new Set<NodeJS.Timeout>();
  const counters = new Map<string, number>();
  let stopped = false;
  let webhookTarget = options.webhookTarget;
  /** The Nth query of intent X (or Nth event of a kind) gets the same fate under the same seed. */
  const nth = (kind: string, key: string) => {
    const n = (counters.get(`${kind}:${key}`) ?? 0) + 1;
    counters.set(`${kind}:${key}`, n);
    return `${key}#${n}`;
  };
  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  /** Passes a request to localstripe and its answer back, bytes untouched. */
  function forward(req: IncomingMessage, res: ServerResponse): void {
    const upstreamReq = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    upstreamReq.on('error', (err) => {
      logger.warn({ err }, 'stripe fault proxy: localstripe unreachable');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":{"type":"api_error","message":"upstream unreachable"}}');
    });
    req.pipe(upstreamReq);
  }

  const api = createServer((req, res) => {
    void (async () => {
      const match = req.method === 'GET' ? QUERY.exec(req.url ?? '') : null;
      if (match) {
        const key = nth('query', decodeURIComponent(match[1]!));
        if (faults.queryLatencyMs > 0) await later(faults.queryLatencyMs);
        if (chance.happens(faults.queryTimeoutRate, 'query-timeout', key)) {
          counts.queryHangs += 1;
          await later(faults.queryTimeoutMs);
          if (stopped) return;
        } else if (chance.happens(faults.queryErrorRate, 'query-error', key)) {
          counts.queryErrors += 1;
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(
            '{"error":{"type":"api_error","message":"An unknown error occurred (injected by the fault proxy)."}}',
          );
          return;
        }
      }
      forward(req, res);
    })();
  });

  const deliveries: StripeFaultProxy['deliveries'] = [];
  /** Sends one webhook on to our API; answers what it answered. */
  async function deliver(
    body: Buffer,
    headers: Record<string, string>,
    about: { paymentId?: string; eventId?: string },
  ): Promise<{ status: number; text: string }> {
    if (!webhookTarget) throw new Error('no webhook target set');
    counts.forwarded += 1;
    let status = 0;
    try {
      const res = await fetch(webhookTarget, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(10_000),
      });
      status = res.status;
      return { status: res.status, text: await res.text() };
    } finally {
      deliveries.push({ ...about, httpStatus: status });
    }
  }

  const webhooks = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const headers: Record<string, string> = { 'content-type': String(req.headers['content-type'] ?? '') };
      if (req.headers['stripe-signature']) headers['stripe-signature'] = String(req.headers['stripe-signature']);
      // Keyed on our payment id where the event has one, so a seed picks the same payments' webhooks every run.
      let key = 'unreadable';
      const about: { paymentId?: string; eventId?: string } = {};
      try {
        const event = JSON.parse(body.toString('utf8')) as {
          id?: string;
          type?: string;
          data?: { object?: { metadata?: { payment_id?: string } } };
        };
        key = `${event.data?.object?.metadata?.payment_id ?? event.id ?? 'unknown'}:${event.type ?? ''}`;
        if (event.data?.object?.metadata?.payment_id) about.paymentId = event.data.object.metadata.payment_id;
        if (event.id) about.eventId = event.id;
      } catch {
        // Forwarded as it is: the API refuses what it cannot read.
      }
      const faultKey = nth('event', key);
      const ack = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      const fate = notificationFate(chance, faults, faultKey);
      if (fate.drop) {
        counts.dropped += 1;
        logger.debug({ key: faultKey }, 'stripe fault proxy: webhook dropped');
        ack();
        return;
      }
      const { delayMs } = fate;
      const twice = fate.duplicateAfterMs !== undefined;
      if (delayMs === 0 && !twice) {
        // No fault: localstripe sees our API's own answer.
        try {
          const answer = await deliver(body, headers, about);
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.text);
        } catch (err) {
          logger.warn({ err }, 'stripe fault proxy: our API unreachable');
          res.writeHead(502).end();
        }
        return;
      }
      // localstripe never retries, so it learns nothing from waiting: acknowledge now, deliver on our own time.
      ack();
      const send = async (afterMs: number) => {
        if (afterMs > 0) await later(afterMs);
        if (stopped) return;
        await deliver(body, headers, about).catch((err: unknown) =>
          logger.warn({ err }, 'stripe fault proxy: a delayed or duplicate webhook could not be delivered'),
        );
      };
      if (delayMs > 0) counts.delayed += 1;
      if (twice) counts.duplicated += 1;
      await Promise.all([
        send(delayMs),
        ...(fate.duplicateAfterMs !== undefined ? [send(delayMs + fate.duplicateAfterMs)] : []),
      ]);
    })();
  });

  const apiUrl = await listenLocal(api);
  const webhookBase = await listenLocal(webhooks);
  return {
    apiUrl,
    webhookUrl: `${webhookBase}/webhooks/stripe`,
    counts,
    deliveries,
    setFaults(next) {
      faults = { ...faults, ...next };
    },
    setWebhookTarget(url) {
      webhookTarget = url;
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const server of [api, webhooks]) {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    },
  };
}
