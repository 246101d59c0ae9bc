/**
 * The cluster profile's test (test/cluster): a real Temporal cluster on PostgreSQL, started by the test itself, with
 * the payments stack pointed at it. Opt-in for now, not part of `npm test`: it needs the cluster binaries
 * (`node scripts/bootstrap.mjs cluster`, many minutes cold), then `npx jest --config jest.cluster.config.js`.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/cluster'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/test/support/quiet-sdk.ts'],
  maxWorkers: 1,
  testTimeout: 10 * 60_000,
  verbose: true,
};
