/**
 * The production engine's run, after the main suite and the whole-stack runs: a real Temporal cluster on PostgreSQL
 * (test/support/cluster-global-setup.ts) under the tests written for the dev server that say what the README
 * promises (the API end to end, every operator command and list filter: SQL visibility must answer them the same),
 * and the cluster's own test (test/cluster: processes, schema, a SIGKILLed history service, a clean stop).
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: [
    '<rootDir>/test/cluster/**/*.test.ts',
    '<rootDir>/test/api/payments-e2e.test.ts',
    '<rootDir>/test/integration/operator-queries.test.ts',
    '<rootDir>/test/integration/operator-cli.test.ts',
    '<rootDir>/test/integration/operator-cli-actions.test.ts',
  ],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/support/cluster-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/quiet-sdk.ts'],
  maxWorkers: 1,
  testTimeout: 10 * 60_000,
  verbose: true,
};
