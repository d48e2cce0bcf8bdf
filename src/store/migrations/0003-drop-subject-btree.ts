/**
 * Drops the b-tree on lower(subject). The API's subject search is a substring match (`like '%…%'`), which a
 * b-tree cannot serve, so the index only cost every verdict-log insert; and a b-tree entry has a size limit
 * (2704 bytes) that a 998-character non-ASCII subject exceeds, which made Postgres refuse the row.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists messages_subject`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index if not exists messages_subject on messages (lower(subject))`.execute(db);
}
