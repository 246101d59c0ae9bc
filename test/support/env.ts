// What global-setup started, for test files: a fresh database per file, the dev server, the workflow bundle.
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { allSearchAttributeKeys } from '../../workflows/definitions';
import { createDb } from '../../db/knex';
import { dataConverterFor } from '../../codec/data-converter';
import { loadConfig } from '../../config';

/**
 * The payload key every test client and worker encrypts with (and that every stack a test starts is given): the
 * suite runs with encryption on, as production does. A fixed test value, not a secret.
 */
export const TEST_PAYLOAD_KEYS = 'test-1:f14kbG410Fh2LS3jB0C6ZiZVlOTfMt71BIxVMi/S4YQ=';
/** The data converter of a test's Temporal clients and workers: the service's codec with the test key. */
export const testDataConverter = () => dataConverterFor(loadConfig({ PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS }));

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through npm test (jest's globalSetup sets it)`);
  return value;
}

export const devServerAddress = () => required('TEMPORAL_TEST_ADDRESS');
export const workflowBundlePath = () => required('WORKFLOW_BUNDLE_PATH');
export const testServerPath = () => required('TEMPORAL_TEST_SERVER_PATH');

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  db: Knex;
  drop(): Promise<void>;
}

/** A new, empty database on the test server; `migrate` applies the schema. Drop it in afterAll. */
export async function createTestDatabase({ migrate = true } = {}): Promise<TestDatabase> {
  const serverUrl = required('TEST_DATABASE_URL');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = createDb({ url: serverUrl, poolMax: 1 });
  await admin.raw(`create database ${name}`);
  const url = withDatabase(serverUrl, name);
  const db = createDb({ url, poolMax: 10, applicationName: 'payments-test' });
  if (migrate) await db.migrate.latest();
  return {
    url,
    db,
    async drop() {
      await db.destroy();
      await admin.raw(`drop database if exists ${name} with (force)`);
      await admin.destroy();
    },
  };
}

const INDEXED_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  DATETIME: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/** A time-skipping test server from the installed binary, with our search attributes registered. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
    client: { dataConverter: testDataConverter() },
  });
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(allSearchAttributeKeys.map((k) => [k.name, INDEXED_TYPES[k.type]!])),
  });
  return env;
}
