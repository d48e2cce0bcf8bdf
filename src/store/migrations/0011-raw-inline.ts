/**
 * A logged message's raw bytes stay in its own row, compressed, instead of going out of line to the TOAST
 * table: a row is moved out only past 8160 bytes (toast_tuple_target; the default starts at about 2 KB, which
 * every 5 KB message passes), and the raw column's MAIN storage compresses it first and moves it out only
 * when the row would still not fit on a page. Out of line, each logged row cost a TOAST heap insert per 2 KB chunk and
 * as many TOAST index entries; inline it is one heap insert, with the same compression and disk use.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table messages alter column raw set storage main`.execute(db);
  await sql`alter table messages set (toast_tuple_target = 8160)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table messages reset (toast_tuple_target)`.execute(db);
  await sql`alter table messages alter column raw set storage extended`.execute(db);
}
