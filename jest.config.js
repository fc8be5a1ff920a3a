// Two projects: fast unit tests, and integration tests that talk to real local
// peers (dynalite, s3rver, sshd) over loopback. Middy 7 is ESM-only, so swc
// transforms it to CommonJS along with our TypeScript.
const transform = {
  '^.+\\.(t|j|mj)s$': [
    '@swc/jest',
    { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
  ],
};
const shared = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: ['/node_modules/(?!(@middy|aws-local-stepfunctions)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  // Middy publishes only an "import" export condition, which jest's CommonJS resolver skips.
  moduleNameMapper: { '^@middy/([^/]+)$': '<rootDir>/node_modules/@middy/$1/index.js' },
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      slowTestThreshold: 20,
      // A 60 s hang guard per test (jest's project-level testTimeout is not applied by jest-circus).
      setupFilesAfterEnv: ['<rootDir>/tests/support/integration-timeout.ts'],
    },
  ],
};
