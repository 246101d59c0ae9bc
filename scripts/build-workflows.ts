// npm run build:workflows [-- <out file>]: bundles workflows/ once, so workers start without bundling (set
// WORKFLOW_BUNDLE_PATH to the file). Deploy the bundle with the code it was built from.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../codec/data-converter';

const noop = () => undefined;
/** Webpack's statistics are noise in a benchmark's or a chaos run's output; errors still show. */
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

export async function buildWorkflowBundle(out: string): Promise<string> {
  // The failure converter inside the workflow sandbox puts messages and stack traces of failures raised in workflow
  // code into a payload, which the worker's codec then encrypts (codec/failure-converter.ts).
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quiet,
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  return out;
}

if (require.main === module) {
  const out = resolve(process.argv[2] ?? join(__dirname, '..', 'dist', 'workflow-bundle.js'));
  buildWorkflowBundle(out).then(
    (file) => process.stdout.write(`WORKFLOW_BUNDLE_PATH=${file}\n`),
    (err: unknown) => {
      process.stderr.write(`bundling failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
