/**
 * Per-day counts of the verdict log (UTC days), by action and by lower-cased envelope sender, so the console
 * overview's "today" and "last 7 days" read a few rollup rows (by action) or one row per sender and day (top
 * senders and domains) instead of grouping every logged message of the week: a week of a busy site is
 * hundreds of thousands of rows, seconds per page. The counts are exact: the database keeps them, with
 * statement-level triggers that aggregate each inserted or deleted batch once (one upsert per key in the
 * batch, not per row), so every writer — the batched log writer, retention, a bulk load in SQL — keeps them
 * right without knowing about them.
 */
import { type Kysely, sql } from 'kysely';

/** Each rollup: its table, its key column and the expression of a `messages` row that fills it. */
const ROLLUPS = [
  { table: 'message_action_counts', key: 'action', of: 'action' },
  { table: 'message_sender_counts', key: 'sender', of: 'lower(mail_from)' },
] as const;

const DAY = `(received_at at time zone 'UTC')::date`;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const { table, key, of } of ROLLUPS) {
    const t = sql.raw(table);
    const k = sql.raw(key);
    const e = sql.raw(of);
    const day = sql.raw(DAY);
    await sql`create table ${t} (day date not null, ${k} text not null, n bigint not null,
      primary key (day, ${k}))`.execute(db);
    // Rows are upserted in key order, so two batches written at once lock shared keys in the same order.
    await sql`
      create function ${sql.raw(`${table}_add`)}() returns trigger language plpgsql as $$
      begin
        insert into ${t} (day, ${k}, n)
          select ${day}, ${e}, count(*) from added group by 1, 2 order by 1, 2
        on conflict (day, ${k}) do update set n = ${t}.n + excluded.n;
        return null;
      end $$`.execute(db);
    await sql`
      create function ${sql.raw(`${table}_remove`)}() returns trigger language plpgsql as $$
      begin
        update ${t} c set n = c.n - gone.n
        from (select ${day} as day, ${e} as ${k}, count(*) as n from removed group by 1, 2) gone
        where c.day = gone.day and c.${k} = gone.${k};
        delete from ${t}
        where n <= 0 and day between (select min(${day}) from removed) and (select max(${day}) from removed);
        return null;
      end $$`.execute(db);
    await sql`
      create function ${sql.raw(`${table}_clear`)}() returns trigger language plpgsql as $$
      begin
        truncate ${t};
        return null;
      end $$`.execute(db);
    // The log's rows are written and deleted, never changed in what is counted (retention only drops raw).
    await sql`create trigger ${sql.raw(`${table}_insert`)} after insert on messages
      referencing new table as added for each statement execute function ${sql.raw(`${table}_add`)}()`.execute(
      db,
    );
    await sql`create trigger ${sql.raw(`${table}_delete`)} after delete on messages
      referencing old table as removed for each statement
      execute function ${sql.raw(`${table}_remove`)}()`.execute(db);
    await sql`create trigger ${sql.raw(`${table}_truncate`)} after truncate on messages
      for each statement execute function ${sql.raw(`${table}_clear`)}()`.execute(db);
    await sql`insert into ${t} (day, ${k}, n) select ${day}, ${e}, count(*) from messages group by 1, 2`.execute(
      db,
    );
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const { table } of ROLLUPS) {
    for (const event of ['insert', 'delete', 'truncate'])
      await sql`drop trigger if exists ${sql.raw(`${table}_${event}`)} on messages`.execute(db);
    for (const fn of ['add', 'remove', 'clear'])
      await sql`drop function if exists ${sql.raw(`${table}_${fn}`)}()`.execute(db);
    await sql`drop table if exists ${sql.raw(table)}`.execute(db);
  }
}
