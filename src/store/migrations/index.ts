/** Migrations are imported statically (no directory scan), so they work the same from src/ and dist/. */
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as lz4Raw from './0002-lz4-raw.js';
import * as dropSubjectBtree from './0003-drop-subject-btree.js';
import * as feedbackRaw from './0004-feedback-raw.js';
import * as subjectTrigram from './0005-subject-trigram.js';
import * as releaseClaim from './0006-quarantine-release-claim.js';
import * as consoleTables from './0007-console.js';
import * as auth from './0008-auth.js';
import * as feedbackAuth from './0009-feedback-auth.js';
import * as messageCounts from './0010-message-counts.js';
import * as rawInline from './0011-raw-inline.js';
import * as recipientCase from './0012-recipient-case.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-lz4-raw': lz4Raw,
  '0003-drop-subject-btree': dropSubjectBtree,
  '0004-feedback-raw': feedbackRaw,
  '0005-subject-trigram': subjectTrigram,
  '0006-quarantine-release-claim': releaseClaim,
  '0007-console': consoleTables,
  '0008-auth': auth,
  '0009-feedback-auth': feedbackAuth,
  '0010-message-counts': messageCounts,
  '0011-raw-inline': rawInline,
  '0012-recipient-case': recipientCase,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
