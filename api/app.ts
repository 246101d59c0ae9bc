// The Express app, built from its dependencies so tests can start it on port 0 with real ones.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import cors from 'cors';
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import { pinoHttp } from 'pino-http';
import type { ChannelRegistry } from '../channels';
import type { Logger } from '../observability/logger';
import { registry } from '../observability/metrics';
import type { Config } from '../config';
import { createAdminRouter } from './admin';
import { createCallbacksRouter } from './callbacks';
import { createCodecRouter } from './codec';
import { errorHandler, MethodNotAllowedError, NotFoundError } from './errors';
import { createHealthRouter } from './health';
import { createPaymentsRouter } from './payments';
import { createApiReferenceRouter } from './reference';
import type { StatusFeed } from './status-feed';

export interface AppDeps {
  db: Knex;
  temporal: Client;
  config: Pick<Config, 'api' | 'temporal' | 'payments' | 'payloadEncryption'>;
  logger: Logger;
  channels?: ChannelRegistry;
  statusFeed?: StatusFeed;
  payUrlWaitMs?: number;
}

const openApiPath = join(__dirname, 'openapi.json');

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * The documented paths as matchers, each with the methods it answers: the document's, HEAD with GET (Express
 * answers it), and OPTIONS. Matched like Express matches routes: case-insensitive, a trailing slash allowed.
 */
export function documentedRoutes(document: {
  paths: Record<string, Record<string, unknown>>;
}): { template: string; pattern: RegExp; allow: string[] }[] {
  return Object.entries(document.paths).map(([template, item]) => {
    const methods = OPERATION_METHODS.filter((m) => m in item).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    if (!methods.includes('OPTIONS')) methods.push('OPTIONS');
    const source = template
      .split(/\{[^}]+\}/)
      .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    return { template, pattern: new RegExp(`^${source}/?$`, 'i'), allow: methods };
  });
}

export function createApp(deps: AppDeps): Express {
  const channels = deps.channels ?? {};
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(
    pinoHttp({
      logger: deps.logger,
      // Method, path, status and time only: no bodies, no headers (signatures, API keys).
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    }),
  );
  app.use(createHealthRouter(deps));
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  // The document is read once: served naming where this deployment is (API_PUBLIC_URL) rather than the generated
  // file's localhost, and the source of the 405 answers below. Its browsable form is at /docs.
  const openApiText = readFileSync(openApiPath, 'utf8');
  const served = JSON.stringify(
    { ...(JSON.parse(openApiText) as object), servers: [{ url: deps.config.api.publicUrl }] },
    null,
    2,
  );
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(served);
  });
  app.use(createApiReferenceRouter(deps.config.api.publicUrl));
  // The codec server for the Temporal Web UI and CLI: its own CORS, credentials and body limit, before the JSON parser.
  app.use('/codec', createCodecRouter({ config: deps.config }));
  // Callbacks need the raw bytes the channel signed: mounted before any JSON parsing.
  app.use(
    createCallbacksRouter({ db: deps.db, temporal: deps.temporal, channels, config: deps.config, logger: deps.logger }),
  );
  // Buyers' browsers (the shop's order page) may read a payment and follow its stream; nothing else.
  app.use('/payments', cors({ origin: deps.config.api.corsOrigins, methods: ['GET'] }));
  app.use(express.json({ limit: '16kb', type: 'application/json', strict: true }));
  app.use(
    createPaymentsRouter({
      db: deps.db,
      temporal: deps.temporal,
      channels,
      config: deps.config,
      logger: deps.logger,
      ...(deps.statusFeed ? { statusFeed: deps.statusFeed } : {}),
      ...(deps.payUrlWaitMs !== undefined ? { payUrlWaitMs: deps.payUrlWaitMs } : {}),
    }),
  );
  app.use(
    createAdminRouter({
      db: deps.db,
      temporal: deps.temporal,
      adminApiKey: deps.config.api.adminApiKey,
      config: deps.config,
    }),
  );
  // A documented path asked with a method it does not have: 405 with Allow (RFC 9110). OPTIONS lists the methods
  // too where neither Express (on its own routes) nor the /payments CORS preflight has answered it already.
  // Anything else is an unknown endpoint.
  const routes = documentedRoutes(JSON.parse(openApiText) as Parameters<typeof documentedRoutes>[0]);
  app.use((req, res, next) => {
    const route = routes.find((r) => r.pattern.test(req.path));
    if (route && req.method === 'OPTIONS') {
      res.status(204).set('allow', route.allow.join(', ')).end();
    } else if (route && !route.allow.includes(req.method)) {
      next(new MethodNotAllowedError(req.method, route.template, route.allow));
    } else {
      next(new NotFoundError('no such endpoint'));
    }
  });
  app.use(errorHandler(deps.logger));
  return app;
}
