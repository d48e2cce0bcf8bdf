/**
 * Per-day counts of the verdict log by action and sender (UTC days), so the console overview's "today" and
 * "last 7 days" figures read a few thousand rollup rows instead of grouping every logged message of the week
 * (a week of a busy site is hundreds of thousands of rows: seconds per page). The counts are exact: the
 * database keeps them, with statement-level triggers that aggregate each inserted or deleted batch once
 * (one upsert per day/action/sender in the batch, not per row), so every writer — the batched log writer,
 * retention, a bulk load in SQL — keeps them right without knowing about them.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table message_counts (
      day date not null,
      action text not null,
      sender text not null,
      n bigint not null,
      primary key (day, action, sender)
    )`.execute(db);
  // Rows are upserted in key order, so two batches written at once lock shared keys in the same order.
  await sql`
    create function message_counts_add() returns trigger language plpgsql as $$
    begin
      insert into message_counts (day, action, sender, n)
        select (received_at at time zone 'UTC')::date, action, lower(mail_from), count(*)
        from added group by 1, 2, 3 order by 1, 2, 3
      on conflict (day, action, sender) do update set n = message_counts.n + excluded.n;
      return null;
    end $$`.execute(db);
  await sql`
    create function message_counts_remove() returns trigger language plpgsql as $$
    begin
      update message_counts c set n = c.n - gone.n
      from (
        select (received_at at time zone 'UTC')::date as day, action, lower(mail_from) as sender, count(*) as n
        from removed group by 1, 2, 3
      ) gone
      where c.day = gone.day and c.action = gone.action and c.sender = gone.sender;
      delete from message_counts
      where n <= 0
        and day between (select min((received_at at time zone 'UTC')::date) from removed)
                    and (select max((received_at at time zone 'UTC')::date) from removed);
      return null;
    end $$`.execute(db);
  // The log's rows are written and deleted, never changed in what is counted (retention only drops raw).
  await sql`
    create function message_counts_clear() returns trigger language plpgsql as $$
    begin
      truncate message_counts;
      return null;
    end $$`.execute(db);
  await sql`create trigger messages_count_insert after insert on messages
    referencing new table as added for each statement execute function message_counts_add()`.execute(db);
  await sql`create trigger messages_count_delete after delete on messages
    referencing old table as removed for each statement execute function message_counts_remove()`.execute(db);
  await sql`create trigger messages_count_truncate after truncate on messages
    for each statement execute function message_counts_clear()`.execute(db);
  await sql`
    insert into message_counts (day, action, sender, n)
    select (received_at at time zone 'UTC')::date, action, lower(mail_from), count(*)
    from messages group by 1, 2, 3`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ['messages_count_insert', 'messages_count_delete', 'messages_count_truncate'])
    await sql`drop trigger if exists ${sql.raw(t)} on messages`.execute(db);
  for (const f of ['message_counts_add', 'message_counts_remove', 'message_counts_clear'])
    await sql`drop function if exists ${sql.raw(f)}()`.execute(db);
  await sql`drop table if exists message_counts`.execute(db);
}
