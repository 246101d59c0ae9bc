/**
 * The whole-stack runs, after the main suite and one at a time, each on a stack of its own: `npm start` itself
 * killed and healed, on the dev server and on the cluster engine (test/stack), and the chaos runs on both engines
 * (test/chaos). Alone, so no other test's load can make them
 * miss a deadline that says nothing about the code.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/stack', '<rootDir>/test/chaos'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  maxWorkers: 1,
  testTimeout: 20 * 60_000,
  verbose: true,
};
