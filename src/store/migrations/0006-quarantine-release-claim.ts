/**
 * Quarantine release is claimed before the message is relayed: a row moves held → releasing in one statement,
 * so concurrent releases (and a release racing a delete) cannot both win. Once no recipient row of a stored
 * message is held or releasing, its bytes are dropped (raw becomes null) while the rows stay as the record.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table quarantine drop constraint if exists quarantine_state_check`.execute(db);
  await sql`alter table quarantine add constraint quarantine_state_check
    check (state in ('held', 'releasing', 'released', 'deleted'))`.execute(db);
  await sql`alter table quarantine_messages alter column raw drop not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`update quarantine set state = 'held' where state = 'releasing'`.execute(db);
  await sql`alter table quarantine drop constraint if exists quarantine_state_check`.execute(db);
  await sql`alter table quarantine add constraint quarantine_state_check
    check (state in ('held', 'released', 'deleted'))`.execute(db);
}
