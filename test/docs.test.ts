import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { REFERENCE_END, REFERENCE_START, renderConfigReference } from '../src/config/reference.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the configuration reference', () => {
  it('in the README is the one the schema renders (run `npm run docs:config` after changing the schema)', () => {
    const block = readme.slice(
      readme.indexOf(REFERENCE_START) + REFERENCE_START.length,
      readme.indexOf(REFERENCE_END),
    );
    expect(block.trim()).toBe(renderConfigReference());
  });

  it('lists every key a config file may set, with the env names of DESIGN.md', () => {
    const table = renderConfigReference();
    for (const key of ['smtp.listen', 'relay.to', 'policy.thresholds.quarantine', 'retention.rawDays']) {
      expect(table).toContain(`| \`${key}\` |`);
    }
    for (const env of ['SMTP_LISTEN', 'RELAY_TO', 'API_LISTEN', 'DATABASE_URL', 'REDIS_URL', 'DATA_DIR']) {
      expect(table).toContain(`\`${env}\``);
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

describe('the Postfix integration in the README', () => {
  it.each(['after-queue', 'before-queue'])('shows the tested %s master.cf lines verbatim', (mode) => {
    const snippet = readFileSync(new URL(`../config/postfix/master.cf.${mode}`, import.meta.url), 'utf8');
    expect(readme).toContain(snippet.trimEnd());
  });
});

describe('the milter integration in docs/milter.md', () => {
  it.each(['main.cf.milter', 'master.cf.milter'])('shows the tested %s lines verbatim', (file) => {
    const doc = readFileSync(new URL('../docs/milter.md', import.meta.url), 'utf8');
    const snippet = readFileSync(new URL(`../config/postfix/${file}`, import.meta.url), 'utf8');
    expect(doc).toContain(snippet.trimEnd());
  });
});
