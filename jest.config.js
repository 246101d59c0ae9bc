/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The chaos run has a config of its own (jest.chaos.config.js), run after this suite.
  testPathIgnorePatterns: ['/node_modules/', '/test/chaos/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // One PostgreSQL server, one Temporal dev server and one workflow bundle for the whole run (test/support).
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/quiet-sdk.ts'],
  testTimeout: 120_000,
  maxWorkers: 2,
  verbose: true,
};
