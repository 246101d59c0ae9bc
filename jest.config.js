/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The whole-stack runs (npm start healed, chaos) have a config of their own (jest.chaos.config.js), run after; the
  // real Temporal cluster's test too (jest.cluster.config.js, opt-in for now).
  testPathIgnorePatterns: ['/node_modules/', '/test/chaos/', '/test/stack/', '/test/cluster/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // One PostgreSQL server, one Temporal dev server and one workflow bundle for the whole run (test/support).
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/quiet-sdk.ts'],
  testTimeout: 120_000,
  maxWorkers: 2,
  verbose: true,
};
