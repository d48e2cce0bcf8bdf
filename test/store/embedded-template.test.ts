/**
 * A first start on an empty data directory unpacks the embedded store's template (built at install by
 * scripts/embedded-template.mjs) instead of running initdb: the cluster it opens already holds every
 * migration and takes writes. An existing directory is opened as it is, never overwritten by the template.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { migrate, openDb, storeTemplatePath } from '../../src/store/db.js';

const config = (dataDir: string) => loadConfig({ env: { DATA_DIR: dataDir }, file: null });

describe('embedded store template', () => {
  it('starts an empty directory from the template, migrated, and reopens it as it is', async () => {
    expect(existsSync(storeTemplatePath()), 'built by npm ci (npm run prepare)').toBe(true);
    const dataDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-template-'));
    const first = await openDb(config(dataDir));
    try {
      // The template came migrated: at most migrations newer than the build that wrote it are left to apply
      // (none on a fresh install), never the first one.
      expect(await migrate(first.db)).not.toContain('0001-initial');
      await sql`insert into audit_log (id, at, actor, action, target) values (gen_random_uuid(), now(), 'test', 'probe', 'template')`.execute(
        first.db,
      );
    } finally {
      await first.close();
    }
    const again = await openDb(config(dataDir));
    try {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_log`.execute(again.db);
      expect(rows[0]?.n).toBe(1);
    } finally {
      await again.close();
    }
  }, 120_000);
});
