// Activities come from a factory that receives their dependencies; the worker builds those once.
import type { Knex } from 'knex';
import type { Logger } from '../common/logger';

export interface ActivityDeps {
  db: Knex;
  logger: Logger;
}

export function createActivities(_deps: ActivityDeps) {
  return {
    /** Does nothing: the benchmark's baseline and the smoke test's round trip. */
    async noop(): Promise<void> {},
  };
}

export type Activities = ReturnType<typeof createActivities>;
