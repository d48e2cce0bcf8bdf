/** Table types for Kysely: the one place the database's shape is written down (see migrations/ for DDL). */
import type { ColumnType, Generated } from 'kysely';
import type { AuthRecord } from '../auth/types.js';
import type { Evaluation, Label } from '../classifier/types.js';
import type { EntryKind, ListName } from '../lists/entry.js';
import type { MessageAction } from '../observability/metrics.js';
import type { DeliveryStatus, QuarantineState, Role } from './types.js';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface MessagesTable {
  id: string;
  received_at: Timestamp;
  session_id: string;
  client_ip: string | null;
  client_helo: string | null;
  mail_from: string;
  rcpt_to: string[];
  message_id_header: string | null;
  header_from: string | null;
  subject: string | null;
  size: number;
  content_hash: string;
  score: number | null;
  action: MessageAction;
  reason: string;
  model_version: string | null;
  top_features: Json<{ feature: string; weight: number }[]>;
  scan_ms: number | null;
  total_ms: number;
  status: DeliveryStatus;
  response: string | null;
  raw: Buffer | null;
  auth: Json<AuthRecord> | null;
}

export interface QuarantineMessagesTable {
  id: string;
  /** Null once no recipient row is held or releasing. */
  raw: Buffer | null;
  created_at: Timestamp;
}

export interface QuarantineTable {
  id: string;
  message_id: string;
  recipient: string;
  mail_from: string;
  subject: string | null;
  header_from: string | null;
  score: number | null;
  reason: string;
  size: number;
  state: QuarantineState;
  created_at: Timestamp;
  expires_at: Timestamp;
  acted_by: string | null;
  acted_at: Timestamp | null;
}

export interface FeedbackTable {
  id: string;
  message_id: string | null;
  content_hash: string;
  label: Label;
  actor: string;
  created_at: Timestamp;
  /** The bytes the model learned from (at most scanner.maxScanBytes); null in rows older than 0004. */
  raw: Buffer | null;
  /** The auth signals learned with it (names); null: none known. */
  auth_signals: Json<string[]> | null;
}

export interface ModelsTable {
  version: string;
  created_at: Timestamp;
  training_set: string;
  evaluation: Json<Evaluation | null>;
  artefact: Buffer;
  active: Generated<boolean>;
  size_bytes: number;
}

export interface ApiKeysTable {
  id: string;
  key_hash: string;
  role: Role;
  label: string | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface AuditLogTable {
  id: string;
  at: Timestamp;
  actor: string;
  action: string;
  target: string | null;
  details: Json<Record<string, unknown>>;
}

export interface SenderListsTable {
  id: string;
  list: ListName;
  kind: EntryKind;
  value: string;
  scope: string;
  aligned_only: boolean;
  created_at: Timestamp;
  created_by: string;
}

export interface UiSessionsTable {
  id_hash: string;
  key_id: string;
  csrf: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface DigestRecipientsTable {
  recipient: string;
  last_sent_at: Timestamp | null;
  disabled: boolean;
}

export interface DigestTokensUsedTable {
  token_hash: string;
  used_at: Timestamp;
}

export interface SettingsTable {
  key: string;
  value: string;
}

/** Logged messages per UTC day and action, kept by triggers (migration 0010). */
export interface MessageActionCountsTable {
  day: ColumnType<string, string, string>;
  action: MessageAction;
  n: ColumnType<string, string | number, string | number>;
}

/** Logged messages per UTC day and lower-cased envelope sender, kept by triggers (migration 0010). */
export interface MessageSenderCountsTable {
  day: ColumnType<string, string, string>;
  sender: string;
  n: ColumnType<string, string | number, string | number>;
}

export interface Database {
  messages: MessagesTable;
  message_action_counts: MessageActionCountsTable;
  message_sender_counts: MessageSenderCountsTable;
  quarantine_messages: QuarantineMessagesTable;
  quarantine: QuarantineTable;
  feedback: FeedbackTable;
  models: ModelsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  sender_lists: SenderListsTable;
  ui_sessions: UiSessionsTable;
  digest_recipients: DigestRecipientsTable;
  digest_tokens_used: DigestTokensUsedTable;
  settings: SettingsTable;
}
