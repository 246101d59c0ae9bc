import { baseline } from './activity-options';

/**
 * The engine's own yardstick: one workflow with one no-op activity. The benchmark compares payments per second
 * against it, and the smoke tests use it to prove a worker and a server talk.
 */
export async function baselineWorkflow(input: { label: string }): Promise<string> {
  await baseline.noop();
  return `done:${input.label}`;
}
