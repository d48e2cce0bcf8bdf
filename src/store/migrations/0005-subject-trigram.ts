/**
 * Subject search (`lower(subject) like '%…%'`, the API's `subject` filter) served by a trigram index, so a
 * search over weeks of verdict log is not a scan of every row. pg_trgm ships with Postgres (contrib) and is
 * a trusted extension (the database owner may create it); where it cannot be created (a managed server
 * without it, a role without CREATE), the migration goes on without the index and the search scans.
 * Cost: ~10–15 % of the batched insert rate (bench/store.bench.ts), paid for every logged message.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$
    begin
      begin
        create extension if not exists pg_trgm;
      exception when others then
        raise notice 'pg_trgm unavailable (%): subject search will scan', sqlerrm;
      end;
      if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        create index if not exists messages_subject_trgm on messages using gin (lower(subject) gin_trgm_ops);
      end if;
    end
    $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists messages_subject_trgm`.execute(db);
}
