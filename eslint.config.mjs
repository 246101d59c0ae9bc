// Lint rules that catch bugs Temporal code is prone to: a forgotten await (an activity or signal that silently
// never happens) and Node built-ins in workflow code (non-deterministic, and the bundler rejects them anyway).
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

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
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code must be deterministic: no Node built-ins.',
          })),
          patterns: [
            {
              group: ['../activities', '../activities/*'],
              allowTypeImports: true,
              message: 'Workflows import activities as types only (proxyActivities<...>).',
            },
            {
              group: ['../api', '../api/*', '../worker', '../worker/*', '../db', '../db/*', '../config', '../config/*'],
              message: 'Workflow code must not import service code.',
            },
          ],
        },
      ],
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
