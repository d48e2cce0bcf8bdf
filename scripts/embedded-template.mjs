// Runs at install (npm's prepare, after the build): writes models/embedded-store.tar.gz, a dump of an embedded
// database (PGlite, the installed version) created and migrated to the latest schema. A first start on an
// empty data directory unpacks it instead of running initdb (src/store/db.ts); later migrations, if any,
// apply on top as on any existing directory.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely } from 'kysely';
import { createPgliteClient, migrate, storeTemplatePath } from '../dist/store/db.js';
import { pgliteDialect } from '../dist/store/pglite-dialect.js';

const started = performance.now();
const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-template-'));
try {
  const client = await createPgliteClient(dir);
  const db = new Kysely({ dialect: pgliteDialect(client) });
  const applied = await migrate(db);
  const dump = Buffer.from(await (await client.dumpDataDir('gzip')).arrayBuffer());
  await db.destroy();
  if (!client.closed) await client.close();
  const file = storeTemplatePath();
  writeFileSync(`${file}.tmp`, dump);
  renameSync(`${file}.tmp`, file);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `embedded store template (${applied.length} migrations, ${(dump.length / 1e6).toFixed(1)} MB) in ${seconds} s`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
