/**
 * The verdict log is searched by recipient ignoring case, as the quarantine is: an administrator looking for
 * `alice@example.com` must find mail an MTA sent to `RCPT TO:<Alice@Example.com>`. The GIN index is on the
 * lower-cased array, so a search stays an index lookup; `lower_each` is declared immutable because `lower`
 * is, which an index expression needs.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function lower_each(text[]) returns text[] language sql immutable strict parallel safe
    as $$ select array(select lower(x) from unnest($1) as x) $$`.execute(db);
  await sql`create index messages_rcpt_to_lower on messages using gin (lower_each(rcpt_to))`.execute(db);
  await sql`drop index messages_rcpt_to`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index messages_rcpt_to on messages using gin (rcpt_to)`.execute(db);
  await sql`drop index messages_rcpt_to_lower`.execute(db);
  await sql`drop function lower_each(text[])`.execute(db);
}
