/**
 * Feedback keeps the bytes the model learned from, so the lesson outlives the process: it is replayed onto
 * the active version at start and included in training. Nullable: rows written before this migration have
 * none and are skipped by both. Compressed with lz4 where the server has it, as 0002 does for the other raw
 * columns (the embedded PGlite has no lz4 and keeps pglz).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table feedback add column raw bytea`.execute(db);
  // Replay reads feedback in (created_at, id) order from a point in time, a page at a time.
  await sql`create index feedback_created on feedback (created_at, id)`.execute(db);
  await sql`
    do $$
    begin
      if exists (select 1 from pg_settings
                 where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table feedback alter column raw set compression lz4;
      end if;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists feedback_created`.execute(db);
  await sql`alter table feedback drop column raw`.execute(db);
}
