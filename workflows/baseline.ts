import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';

const { noop } = proxyActivities<ReturnType<typeof createActivities>>({ startToCloseTimeout: '10 seconds' });

/**
 * The engine's own yardstick: one workflow with one no-op activity. The benchmark compares payments per second
 * against it, and the smoke tests use it to prove a worker and a server talk.
 */
export async function baselineWorkflow(input: { label: string }): Promise<string> {
  await noop();
  return `done:${input.label}`;
}
