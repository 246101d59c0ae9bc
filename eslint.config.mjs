// Lint rules that catch bugs Temporal code is prone to: a forgotten await (an activity or signal that silently
// never happens) and Node built-ins in workflow code (non-deterministic, and the bundler rejects them anyway).
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const WORKFLOW_ONLY =
  'Workflow code imports values only from @temporalio/workflow and workflows/ (types from anywhere).';
const NO_DEV_CODE = {
  group: ['../scripts', '../scripts/*', '../sandbox', '../sandbox/*', '../../scripts/*', '../../sandbox/*'],
  message: 'Service code does not import scripts/ or sandbox/ (development tools and simulated third parties).',
};

/** The import rules of the house for some files: ESLint applies the last matching block's options, so one each. */
function imports(files, patterns, paths = []) {
  return {
    files,
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns }] },
  };
}

const nodeBuiltinPaths = nodeBuiltins.map((name) => ({
  name,
  message: 'Workflow code must be deterministic: no Node built-ins.',
}));

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.data/',
      '.venv/',
      'coverage/',
      'scripts/bootstrap.mjs',
      'eslint.config.mjs',
      'jest.config.js',
      'jest.chaos.config.js',
      'jest.cluster.config.js',
      'scratch/',
    ],
  },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  // House rules, enforced here rather than only written down (see README, Layout):
  // - service code never depends on the development scripts or the simulated third parties;
  imports(
    [
      'activities/**/*.ts',
      'channels/**/*.ts',
      'payments/**/*.ts',
      'worker/**/*.ts',
      'config/**/*.ts',
      'codec/**/*.ts',
      'db/**/*.ts',
      'observability/**/*.ts',
    ],
    [NO_DEV_CODE],
  ),
  // - the API talks to workflows through Temporal, never by running activities or worker code itself;
  imports(
    ['api/**/*.ts'],
    [
      NO_DEV_CODE,
      {
        group: ['../activities', '../activities/*', '../worker', '../worker/*'],
        message: 'api/ does not import activities/ or worker/.',
      },
    ],
  ),
  // - workflow code is deterministic: values only from @temporalio/workflow and workflows/ itself (one level of folders
  //   below it, e.g. workflows/payment/), anything else only as `import type`; no Node built-ins.
  imports(
    ['workflows/*.ts'],
    [
      { regex: '^(?!@temporalio/workflow$|\\.)', allowTypeImports: true, message: WORKFLOW_ONLY },
      { group: ['../*'], allowTypeImports: true, message: WORKFLOW_ONLY },
    ],
    nodeBuiltinPaths,
  ),
  imports(
    ['workflows/*/*.ts'],
    [
      { regex: '^(?!@temporalio/workflow$|\\.)', allowTypeImports: true, message: WORKFLOW_ONLY },
      { group: ['../../*'], allowTypeImports: true, message: WORKFLOW_ONLY },
    ],
    nodeBuiltinPaths,
  ),
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() or condition() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use a durable timer.' },
        { name: 'process', message: 'Workflow code has no process; pass values in as parameters.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Pass time in, or use workflow time via Date in the sandbox deliberately.',
        },
        { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow or a parameter.' },
      ],
    },
  },
);
