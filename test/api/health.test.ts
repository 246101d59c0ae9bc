import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createApp } from '../../api/app';
import { loadConfig } from '../../config';
import { createDb } from '../../db/knex';
import { freePort } from '../../scripts/stack/net';
import { createTestDatabase, devServerAddress, type TestDatabase } from '../support/env';
import { listen } from '../support/http';

describe('health endpoints over HTTP', () => {
  let t: TestDatabase;
  let connection: Connection;
  let temporal: Client;
  const logger = pino({ level: 'silent' });
  const config = loadConfig({});
  beforeAll(async () => {
    t = await createTestDatabase();
    connection = await Connection.connect({ address: devServerAddress() });
    temporal = new Client({ connection });
  });
  afterAll(async () => {
    await connection?.close();
    await t?.drop();
  });

  it('answers /healthz and /readyz when PostgreSQL and Temporal answer', async () => {
    const api = await listen(createApp({ db: t.db, temporal, config, logger }));
    try {
      const health = await fetch(`${api.url}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${api.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
    } finally {
      await api.close();
    }
  });

  it('is not ready (503, naming the database) when PostgreSQL is unreachable, but still alive', async () => {
    const silent = {
      warn: () => undefined,
      error: () => undefined,
      debug: () => undefined,
      deprecate: () => undefined,
    };
    const deadDb = createDb({ url: `postgres://nobody@127.0.0.1:${await freePort()}/none`, poolMax: 1, log: silent });
    const api = await listen(createApp({ db: deadDb, temporal, config, logger }));
    try {
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${api.url}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { checks: Record<string, string> };
      expect(body.checks.temporal).toBe('ok');
      expect(body.checks.database).not.toBe('ok');
    } finally {
      await api.close();
      await deadDb.destroy();
    }
  });

  it('answers an unknown path with a JSON 404', async () => {
    const api = await listen(createApp({ db: t.db, temporal, config, logger }));
    try {
      const res = await fetch(`${api.url}/nope`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no such endpoint' } });
    } finally {
      await api.close();
    }
  });
});
