import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { allSearchAttributeKeys } from '../../workflows/definitions';
import { createPaymentWorker } from '../../worker/worker';
import { createTestDatabase, devServerAddress, workflowBundlePath, type TestDatabase } from '../support/env';

describe('the Temporal dev server launched from the installed binary', () => {
  let connection: Connection;
  let client: Client;
  let t: TestDatabase;
  beforeAll(async () => {
    connection = await Connection.connect({ address: devServerAddress() });
    client = new Client({ connection });
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await connection?.close();
    await t?.drop();
  });

  it('has our custom search attributes registered', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const key of allSearchAttributeKeys) expect(Object.keys(customAttributes ?? {})).toContain(key.name);
  });

  it('completes a workflow started through the client, on our worker', async () => {
    const nativeConnection = await NativeConnection.connect({ address: devServerAddress() });
    const worker = await createPaymentWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: 'smoke',
      deps: { db: t.db, logger: pino({ level: 'silent' }) },
      workflowBundlePath: workflowBundlePath(),
    });
    try {
      const result = await worker.runUntil(
        client.workflow.execute('baselineWorkflow', {
          taskQueue: 'smoke',
          workflowId: `smoke-${Date.now()}`,
          args: [{ label: 'hello' }],
        }),
      );
      expect(result).toBe('done:hello');
    } finally {
      await nativeConnection.close();
    }
  });
});
