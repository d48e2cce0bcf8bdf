/**
 * Sender authentication per logged message (src/auth/): the result of each method, the DMARC policy and the
 * named signals, as JSON (null: not verified, e.g. auth.enabled off). Nullable, so adding it rewrites nothing.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table messages add column if not exists auth jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table messages drop column if exists auth`.execute(db);
}
