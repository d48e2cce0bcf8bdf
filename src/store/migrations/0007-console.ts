/**
 * What the web console and the quarantine digest keep: allow/block list entries (the console and the API
 * edit them; config entries still apply), console sessions (a hash of the cookie, never the cookie), the
 * digest's per-recipient state, the digest tokens already spent on a release, and service settings such as
 * the digest's HMAC key when the config gives none.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table sender_lists (
      id uuid primary key,
      list text not null check (list in ('allow', 'block')),
      kind text not null check (kind in ('sender', 'domain', 'network')),
      value text not null,
      scope text not null,
      aligned_only boolean not null default false,
      created_at timestamptz not null,
      created_by text not null,
      unique (list, kind, value, scope)
    )`.execute(db);
  await sql`
    create table ui_sessions (
      id_hash text primary key,
      key_id uuid not null references api_keys (id) on delete cascade,
      csrf text not null,
      created_at timestamptz not null,
      expires_at timestamptz not null
    )`.execute(db);
  await sql`create index ui_sessions_expires on ui_sessions (expires_at)`.execute(db);
  await sql`
    create table digest_recipients (
      recipient text primary key,
      last_sent_at timestamptz,
      disabled boolean not null default false
    )`.execute(db);
  await sql`
    create table digest_tokens_used (
      token_hash text primary key,
      used_at timestamptz not null
    )`.execute(db);
  await sql`create table settings (key text primary key, value text not null)`.execute(db);
  // The digest asks, per recipient, for held rows since its last digest.
  await sql`create index quarantine_recipient_held on quarantine (lower(recipient), created_at)
    where state = 'held'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists quarantine_recipient_held`.execute(db);
  for (const t of ['settings', 'digest_tokens_used', 'digest_recipients', 'ui_sessions', 'sender_lists'])
    await sql`drop table if exists ${sql.raw(t)}`.execute(db);
}
