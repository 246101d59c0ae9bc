import { Router } from 'express';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import { pingDb } from '../db/knex';

export interface HealthDeps {
  db: Knex;
  temporal: Client;
}

async function check(fn: () => Promise<unknown>): Promise<'ok' | string> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** /healthz: the process is alive. /readyz: it can do its job (PostgreSQL and Temporal both answer). */
export function createHealthRouter({ db, temporal }: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [database, temporalStatus] = await Promise.all([
      check(() => pingDb(db)),
      check(() =>
        temporal.withDeadline(Date.now() + 2000, () =>
          temporal.workflowService.describeNamespace({ namespace: temporal.options.namespace }),
        ),
      ),
    ]);
    const ready = database === 'ok' && temporalStatus === 'ok';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not ready', checks: { database, temporal: temporalStatus } });
  });
  return router;
}
