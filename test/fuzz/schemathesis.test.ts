// API fuzzing: Schemathesis (PyPI, pinned in scripts/bootstrap.mjs) generates requests from the committed OpenAPI
// document, valid and invalid, and checks every response against it, with all of its checks: no 5xx, documented
// status codes, content types, headers and bodies, invalid input refused and valid input accepted, required headers,
// 405 + Allow for undocumented methods, authentication enforced on the admin routes, and stateful sequences that
// follow the document's links from POST /payments to the payment's own operations. The API is the real one, on the
// whole stack (dev server, PostgreSQL, worker, SandboxPay, order service). Settings that need explaining are in
// schemathesis.toml beside this file; what the report shows is on the command line below.
//
// No check is excluded and no operation left out (GET /openapi.json included, see --include-path-regex): /readyz
// answers 200 here (everything is up) and its 503 is documented; /metrics is plain text, documented as such; the
// push stream is read for two events or two seconds (schemathesis.toml) and each event validated against
// StatusEventMessage. Expected warnings, logged not failed: the callbacks answer only 401 or 404 (`missing_auth`,
// `missing_test_data`): nothing here can sign a callback, and an unsigned one must be refused.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, readToolchain } from '../../scripts/stack/toolchain';
import { ADMIN_KEY, Stack } from '../support/stack';

/**
 * At most this many generated cases per operation in each phase (Schemathesis's --max-examples). 500 gives about
 * 4,500 requests over the 11 operations; the run takes about a minute on the 2-core machines this runs on, the
 * whole test (stack start included) well under the 3 minutes it may take alongside the rest of the suite.
 */
const MAX_EXAMPLES = 500;
const SEED = 20261127;

interface JsonReport {
  exit_code: number;
  running_time: number;
  operations: { selected: number; tested: number; errored: number };
  test_cases: { generated: number; with_failures: number; unique_failures: number; errored: number };
  failures: unknown[];
  errors: unknown[];
  warnings: Record<string, unknown[]>;
}

function run(command: string, args: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The totals of a JUnit XML report (the root element's attributes). */
function junitTotals(xml: string): { tests: number; failures: number; errors: number } {
  const root = /<testsuites\b([^>]*)>/.exec(xml)?.[1] ?? '';
  const attribute = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(root)?.[1] ?? NaN);
  return { tests: attribute('tests'), failures: attribute('failures'), errors: attribute('errors') };
}

describe('API fuzzing with Schemathesis, whole stack', () => {
  let s: Stack;
  beforeAll(async () => {
    // Payments made by the fuzzer stay quiet: no channel query or expiry fires during the run. Their orders were
    // never made at the order service (the shop makes them before asking for a payment), which would answer 404
    // to every retried notification of a cancelled one, in the worker's warnings: the notifier makes the order
    // first, as the shop would have, then tells the real order service.
    s = await Stack.start({
      env: { PAYMENT_QUERY_SCHEDULE: '10m', PAYMENT_EXPIRY: '30m' },
      orderNotifier: (real, ordersUrl) => ({
        async notify(notice) {
          await fetch(`${ordersUrl}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ orderId: notice.orderId, amount: notice.amount, currency: notice.currency }),
          });
          return real.notify(notice);
        },
      }),
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('finds no 5xx and no response that disagrees with the OpenAPI document', async () => {
    const st = readToolchain().schemathesis;
    if (!st) throw new Error('Schemathesis is not installed: run through npm test (scripts/bootstrap.mjs test)');
    const dir = join(projectRoot, 'test-results', 'schemathesis');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const junitPath = join(dir, 'junit.xml');
    const jsonPath = join(dir, 'report.json');
    const args = [
      '--config-file',
      join(__dirname, 'schemathesis.toml'),
      'run',
      `${s.apiUrl}/openapi.json`,
      // Every operation, GET /openapi.json too: Schemathesis leaves out the one that served the document it loaded
      // unless a filter names it.
      '--include-path-regex',
      '^/',
      '--checks',
      'all',
      '--phases',
      'examples,coverage,fuzzing,stateful',
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      '--workers',
      '1',
      '--no-color',
      '--report',
      'junit,json',
      '--report-junit-path',
      junitPath,
      '--report-json-path',
      jsonPath,
    ];
    const started = Date.now();
    const { code, output } = await run(st, args, { ADMIN_API_KEY: ADMIN_KEY }, dir);
    writeFileSync(join(dir, 'output.txt'), output);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);

    const report = JSON.parse(readFileSync(jsonPath, 'utf8')) as JsonReport;
    const junit = junitTotals(readFileSync(junitPath, 'utf8'));
    const { generated, with_failures: failed, unique_failures: unique, errored } = report.test_cases;
    const warnings = Object.entries(report.warnings)
      .filter(([, operations]) => operations.length > 0)
      .map(([kind, operations]) => `${kind}: ${operations.join(', ')}`);
    process.stderr.write(
      `\n[fuzz] st ${args.slice(2).join(' ')}\n` +
        `[fuzz] ${generated} cases over ${report.operations.tested} operations, ${failed} failures ` +
        `(${unique} unique), ${errored} errors, in ${seconds} s; JUnit: ${junit.tests} tests, ` +
        `${junit.failures} failures, ${junit.errors} errors\n` +
        (warnings.length > 0 ? `[fuzz] warnings: ${warnings.join('; ')}\n` : '') +
        `[fuzz] full output and reports in test-results/schemathesis/\n`,
    );
    if (code !== 0 || failed > 0 || errored > 0) process.stderr.write(`${output}\n`);

    expect({ failed, unique, errored, junitFailures: junit.failures, junitErrors: junit.errors }).toEqual({
      failed: 0,
      unique: 0,
      errored: 0,
      junitFailures: 0,
      junitErrors: 0,
    });
    expect(code).toBe(0);
    // Every documented operation was tested (no schema error, no filter left one out), with real volume.
    expect(report.operations.errored).toBe(0);
    expect(report.operations.tested).toBe(report.operations.selected);
    expect(generated).toBeGreaterThan(100 * report.operations.tested);
  }, 300_000);
});
