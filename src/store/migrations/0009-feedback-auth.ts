/**
 * The auth signals a feedback row's message had when it was scanned (from its log row), as a JSON array of
 * names: the lesson is learned, replayed and trained on with them. Null: none known (raw given to the API,
 * or rows recorded before 0009). Nullable, so adding it rewrites nothing.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table feedback add column if not exists auth_signals jsonb`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table feedback drop column if exists auth_signals`.execute(db);
}
