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
import { errorHandler, NotFoundError } from './errors';
import { createHealthRouter } from './health';
import { createPaymentsRouter } from './payments';
import type { StatusFeed } from './status-feed';

export interface AppDeps {
  db: Knex;
  temporal: Client;
  config: Pick<Config, 'api' | 'temporal' | 'payments'>;
  logger: Logger;
  channels?: ChannelRegistry;
  statusFeed?: StatusFeed;
  payUrlWaitMs?: number;
}

const openApiPath = join(__dirname, 'openapi.json');

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
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(readFileSync(openApiPath, 'utf8'));
  });
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
  app.use(createAdminRouter({ db: deps.db, temporal: deps.temporal, adminApiKey: deps.config.api.adminApiKey }));
  app.use((_req, _res, next) => next(new NotFoundError('no such endpoint')));
  app.use(errorHandler(deps.logger));
  return app;
}
