/** The first schema: verdict log, quarantine (one stored message, one row per recipient), feedback, model
 * versions, API keys (hashes only) and the audit trail. timestamptz everywhere. */
import { type Kysely, sql } from 'kysely';

// Migrations see the database as it was then, not as the current schema types say.
// biome-ignore lint/suspicious/noExplicitAny: Kysely's documented signature for migrations
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('client_ip', 'text')
    .addColumn('client_helo', 'text')
    .addColumn('mail_from', 'text', (c) => c.notNull())
    .addColumn('rcpt_to', sql`text[]`, (c) => c.notNull())
    .addColumn('message_id_header', 'text')
    .addColumn('header_from', 'text')
    .addColumn('subject', 'text')
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('score', 'double precision')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('model_version', 'text')
    .addColumn('top_features', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('scan_ms', 'double precision')
    .addColumn('total_ms', 'double precision', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('response', 'text')
    .addColumn('raw', 'bytea')
    .execute();
  await db.schema
    .createIndex('messages_received_at')
    .on('messages')
    .columns(['received_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('messages_action')
    .on('messages')
    .columns(['action', 'received_at desc'])
    .execute();
  await db.schema
    .createIndex('messages_status')
    .on('messages')
    .columns(['status', 'received_at desc'])
    .execute();
  await db.schema
    .createIndex('messages_mail_from')
    .on('messages')
    .expression(sql`lower(mail_from)`)
    .execute();
  await db.schema.createIndex('messages_rcpt_to').on('messages').using('gin').column('rcpt_to').execute();
  await db.schema.createIndex('messages_content_hash').on('messages').column('content_hash').execute();
  await db.schema.createIndex('messages_subject').on('messages').expression(sql`lower(subject)`).execute();

  await db.schema
    .createTable('quarantine_messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('raw', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('quarantine')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('message_id', 'uuid', (c) =>
      c.notNull().references('quarantine_messages.id').onDelete('cascade'),
    )
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('mail_from', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('header_from', 'text')
    .addColumn('score', 'double precision')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('held', 'released', 'deleted')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('acted_by', 'text')
    .addColumn('acted_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('quarantine_state')
    .on('quarantine')
    .columns(['state', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('quarantine_recipient')
    .on('quarantine')
    .expression(sql`lower(recipient)`)
    .execute();
  await db.schema.createIndex('quarantine_message').on('quarantine').column('message_id').execute();
  await db.schema.createIndex('quarantine_expires').on('quarantine').column('expires_at').execute();

  await db.schema
    .createTable('feedback')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('message_id', 'uuid')
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull().check(sql`label in ('spam', 'ham')`))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('feedback_content_hash')
    .on('feedback')
    .columns(['content_hash', 'created_at desc'])
    .execute();

  await db.schema
    .createTable('models')
    .addColumn('version', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('training_set', 'text', (c) => c.notNull())
    .addColumn('evaluation', 'jsonb')
    .addColumn('artefact', 'bytea', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .execute();
  // At most one active version, enforced by the database.
  await sql`create unique index models_one_active on models (active) where active`.execute(db);

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('admin', 'analyst')`))
    .addColumn('label', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const table of [
    'audit_log',
    'api_keys',
    'models',
    'feedback',
    'quarantine',
    'quarantine_messages',
    'messages',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
