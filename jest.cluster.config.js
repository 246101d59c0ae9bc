/**
 * The cluster profile's test (test/cluster): a real Temporal cluster on PostgreSQL, started by the test itself, with
 * the payments stack pointed at it. Opt-in for now, not part of `npm test`: `npm run test:cluster` builds the cluster
 * binaries first (`node scripts/bootstrap.mjs cluster`: 5 to 10 minutes cold, skipped once built), then runs it.
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
