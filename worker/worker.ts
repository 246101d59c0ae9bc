// Builds the Worker: one place for its options, shared by the worker process and the tests.
import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { type ActivityDeps, createActivities } from '../activities';
import type { WorkerTuning } from '../config';

export interface PaymentWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle (tests build one per run); default: bundle workflows/ at start-up. */
  workflowBundlePath?: string;
  tuning?: WorkerTuning;
  /** The payload codec and failure converter (codec/data-converter.ts); undefined: payloads in clear. */
  dataConverter?: DataConverter;
  overrides?: Partial<WorkerOptions>;
}

export async function createPaymentWorker(options: PaymentWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities(options.deps),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    ...tuningOptions(options.tuning),
    ...options.overrides,
  });
}

/** The configured tuning as WorkerOptions; what is not set stays at the SDK's default. */
export function tuningOptions(tuning: WorkerTuning | undefined): Partial<WorkerOptions> {
  if (!tuning) return {};
  const options: Partial<WorkerOptions> = {};
  if (tuning.maxCachedWorkflows !== undefined) options.maxCachedWorkflows = tuning.maxCachedWorkflows;
  if (tuning.maxConcurrentWorkflowTasks !== undefined) {
    options.maxConcurrentWorkflowTaskExecutions = tuning.maxConcurrentWorkflowTasks;
  }
  if (tuning.maxConcurrentActivities !== undefined) {
    options.maxConcurrentActivityTaskExecutions = tuning.maxConcurrentActivities;
  }
  if (tuning.maxConcurrentLocalActivities !== undefined) {
    options.maxConcurrentLocalActivityExecutions = tuning.maxConcurrentLocalActivities;
  }
  if (tuning.pollerAutoscaling) {
    options.workflowTaskPollerBehavior = { type: 'autoscaling' };
    options.activityTaskPollerBehavior = { type: 'autoscaling' };
  }
  return options;
}
