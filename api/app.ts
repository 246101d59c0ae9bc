// The Express app, built from its dependencies so tests can start it on port 0 with real ones.
import express, { type Express } from 'express';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../common/logger';
import { errorHandler, NotFoundError } from './errors';
import { createHealthRouter } from './health';

export interface AppDeps {
  db: Knex;
  temporal: Client;
  config: Pick<Config, 'api' | 'temporal' | 'payments' | 'channel'>;
  logger: Logger;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(createHealthRouter(deps));
  app.use((_req, _res, next) => next(new NotFoundError('no such endpoint')));
  app.use(errorHandler(deps.logger));
  return app;
}
