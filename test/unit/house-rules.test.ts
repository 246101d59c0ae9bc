// The rules of the house (README, Layout) are lint rules, not prose: each one fires on a file that breaks it, and
// stays quiet on the allowed form. The files are written where the rules apply, linted by the ESLint CLI with the
// project's configuration, and removed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(__dirname, '..', '..');
const id = `zz-house-rule-${process.pid}`;
const SERVICE_DIRS = ['db', 'channels', 'payments', 'activities', 'worker', 'config', 'observability'];

const files: Record<string, string> = {
  [`workflows/${id}.ts`]: [
    "import { createActivities } from '../activities';",
    "import { z } from 'zod';",
    "import { readFileSync } from 'node:fs';",
    'export const x = [createActivities, z, readFileSync];',
  ].join('\n'),
  [`workflows/payment/${id}.ts`]: "import { createDb } from '../../db/knex';\nexport const y = createDb;",
  [`workflows/payment/${id}-ok.ts`]: [
    "import { sleep } from '@temporalio/workflow';",
    "import type { Knex } from 'knex';",
    "import type { Activities } from '../../activities';",
    "import { isFinal } from '../states';",
    "import { PaymentState } from './state';",
    'export const z = [sleep, isFinal, PaymentState];',
    'export type K = [Knex, Activities];',
  ].join('\n'),
  [`api/${id}.ts`]: [
    "import type { Activities } from '../activities';",
    "import { createPaymentWorker } from '../worker/worker';",
    'export type A = Activities;',
    'export const w = createPaymentWorker;',
  ].join('\n'),
  ...Object.fromEntries(
    SERVICE_DIRS.map((dir) => [
      `${dir}/${id}.ts`,
      "import { freePort } from '../scripts/stack/net';\nimport { Chance } from '../sandbox/chance';\nexport const f = [freePort, Chance];",
    ]),
  ),
};

let messages: Record<string, string[]> = {};

beforeAll(() => {
  for (const [path, code] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${code}\n`);
  }
  try {
    const run = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', ...Object.keys(files)],
      { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    );
    const results = JSON.parse(run.stdout) as { filePath: string; messages: { message: string }[] }[];
    messages = Object.fromEntries(results.map((r) => [relative(root, r.filePath), r.messages.map((m) => m.message)]));
  } finally {
    for (const path of Object.keys(files)) rmSync(join(root, path), { force: true });
  }
}, 120_000);

const of = (path: string) => (messages[path] ?? []).join('\n');

describe('the house rules, enforced by lint', () => {
  it('workflow code takes values only from @temporalio/workflow and workflows/, and no Node built-ins', () => {
    expect(of(`workflows/${id}.ts`)).toMatch(/'\.\.\/activities' import is restricted/);
    expect(of(`workflows/${id}.ts`)).toMatch(/'zod' import is restricted/);
    expect(of(`workflows/${id}.ts`)).toMatch(/no Node built-ins/);
    expect(of(`workflows/payment/${id}.ts`)).toMatch(/'\.\.\/\.\.\/db\/knex' import is restricted/);
  });

  it('workflow code may import types from anywhere, and values from its own folder', () => {
    expect(messages[`workflows/payment/${id}-ok.ts`]).toEqual([]);
  });

  it('api/ does not import activities/ or worker/, not even their types', () => {
    expect(of(`api/${id}.ts`).match(/api\/ does not import/g)).toHaveLength(2);
  });

  it.each(SERVICE_DIRS)('service code (%s/) does not import scripts/ or sandbox/', (dir) => {
    expect(of(`${dir}/${id}.ts`).match(/Service code does not import/g)).toHaveLength(2);
  });
});
