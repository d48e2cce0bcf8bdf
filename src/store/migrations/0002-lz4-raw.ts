/**
 * Raw message bytes compressed with lz4 instead of Postgres's default pglz where the server has it: the
 * verdict log keeps every message's bytes for retention.rawDays, and pglz compression of those bytes was
 * most of a batched insert's cost. Servers built without lz4 (and the embedded PGlite) keep pglz.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$
    begin
      if exists (select 1 from pg_settings
                 where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
        alter table messages alter column raw set compression lz4;
        alter table quarantine_messages alter column raw set compression lz4;
      end if;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table messages alter column raw set compression default`.execute(db);
  await sql`alter table quarantine_messages alter column raw set compression default`.execute(db);
}
