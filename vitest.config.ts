import { defineConfig } from 'vitest/config';

// .ci/run sets VITEST_JSON_REPORT so it can check afterwards that no test was skipped.
const jsonReport = process.env.VITEST_JSON_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: files run in parallel forks; each file builds its own service on ephemeral ports.
    pool: 'forks',
    maxWorkers: 2,
    // The skipped-suites note ends the summary of a local run without the real services.
    reporters: [
      'default',
      './test/skipped-reporter.ts',
      ...(jsonReport ? [['json', { outputFile: jsonReport }] as [string, Record<string, unknown>]] : []),
    ],
  },
});
