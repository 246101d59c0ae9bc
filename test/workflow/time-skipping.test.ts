import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { testServerPath } from '../support/env';

describe('the time-skipping test server (installed binary)', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: testServerPath() } },
    });
  });
  afterAll(() => env?.teardown());

  it('runs a workflow that sleeps one hour in seconds of wall time', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'time-skipping',
      workflowsPath: require.resolve('../fixtures/sleepy-workflows'),
    });
    const wallStart = Date.now();
    const result = await worker.runUntil(
      env.client.workflow.execute('sleepForAnHour', { taskQueue: 'time-skipping', workflowId: 'sleep-1h' }),
    );
    expect(result.sleptMs).toBeGreaterThanOrEqual(3_600_000);
    // Proof that the hour was skipped, not waited: far less than an hour of real time passed.
    expect(Date.now() - wallStart).toBeLessThan(60_000);
  });
});
