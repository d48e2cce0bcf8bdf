/**
 * At the end of a run, names the test files whose tests were skipped for want of the real services and how
 * to run them, so a local `npm test` without DATABASE_URL/REDIS_URL does not pass for a full one.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SkippedReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const missing = (['DATABASE_URL', 'REDIS_URL'] as const).filter((name) => !process.env[name]);
    const skipped = modules
      .map((m) => ({ file: m.relativeModuleId, count: [...m.children.allTests('skipped')].length }))
      .filter((m) => m.count > 0);
    if (skipped.length === 0) return;
    const lines = [
      '',
      `Skipped: ${skipped.reduce((n, m) => n + m.count, 0)} tests in ${skipped.length} files${
        missing.length > 0 ? ` (${missing.join(' and ')} not set)` : ''
      }:`,
      ...skipped.map((m) => `  ${m.file} (${m.count})`),
    ];
    if (missing.length > 0)
      lines.push(
        'Run them against the real services (trust-auth Postgres, Redis), e.g.:',
        '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 npm test',
      );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
