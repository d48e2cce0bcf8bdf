import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { REFERENCE_END, REFERENCE_START, renderConfigReference } from '../src/config/reference.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('the configuration reference', () => {
  it('in docs/configuration.md is the one the schema renders (run `npm run docs:config` after changing the schema)', () => {
    const page = read('docs/configuration.md');
    const block = page.slice(
      page.indexOf(REFERENCE_START) + REFERENCE_START.length,
      page.indexOf(REFERENCE_END),
    );
    expect(block.trim()).toBe(renderConfigReference());
  });

  it('lists every key a config file may set, with the environment names of docs/architecture.md', () => {
    const table = renderConfigReference();
    for (const key of ['smtp.listen', 'relay.to', 'policy.thresholds.quarantine', 'retention.rawDays']) {
      expect(table).toContain(`| \`${key}\` |`);
    }
    const architecture = read('docs/architecture.md');
    for (const env of ['SMTP_LISTEN', 'RELAY_TO', 'API_LISTEN', 'DATABASE_URL', 'REDIS_URL', 'DATA_DIR']) {
      expect(table).toContain(`\`${env}\``);
      expect(architecture).toContain(`\`${env}\``);
    }
  });

  it('the example config file is valid', () => {
    const config = loadConfig({
      file: new URL('../config/mailsentra.example.yaml', import.meta.url).pathname,
      env: {},
    });
    expect(config.policy.domains['finance.example.net']).toEqual({ quarantine: 0.8, reject: 0.99 });
  });
});

describe('the Postfix integration in docs/integration.md', () => {
  it.each(['after-queue', 'before-queue'])('shows the tested %s master.cf lines verbatim', (mode) => {
    const snippet = read(`config/postfix/master.cf.${mode}`);
    expect(read('docs/integration.md')).toContain(snippet.trimEnd());
  });
});

describe('README.md and docs/', () => {
  const readme = read('README.md');

  it('stays a newcomer’s page: under 15 000 characters, with the test command CI runs', () => {
    expect(readme.length).toBeLessThan(15_000);
    expect(readme).toContain('npm test');
  });

  it('narrates no development history (that belongs in CHANGELOG.md and commit messages)', () => {
    const pages = ['README.md', ...readdirSync(new URL('../docs', import.meta.url)).map((f) => `docs/${f}`)];
    const history =
      /earlier (stops?|sessions?|releases?)|machine of (an )?earlier|on the machine of|\bbefore\/after\b/i;
    for (const page of pages) expect(read(page), page).not.toMatch(history);
  });
});

describe('the milter integration in docs/milter.md', () => {
  it.each(['main.cf.milter', 'master.cf.milter'])('shows the tested %s lines verbatim', (file) => {
    expect(read('docs/milter.md')).toContain(read(`config/postfix/${file}`).trimEnd());
  });
});
