/**
 * API keys: only a SHA-256 of each key is stored (keys are 32 random bytes, so a slow hash adds nothing);
 * the clear key is shown once, at creation. Revoked keys stay for the audit trail.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db } from './db.js';
import type { ApiKeysTable } from './schema.js';
import { storableTextOrNull } from './text.js';
import type { ApiKeyRecord, KeyStore, Role, Storage } from './types.js';

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function toRecord(r: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: r.id,
    role: r.role,
    label: r.label,
    createdAt: new Date(r.created_at),
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
  };
}

export function createKeyStore(db: Db): KeyStore {
  async function insert(key: string, role: Role, label: string | null): Promise<ApiKeyRecord> {
    const row = await db
      .insertInto('api_keys')
      .values({
        id: randomUUID(),
        key_hash: hashKey(key),
        role,
        label: storableTextOrNull(label),
        created_at: new Date(),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }
  return {
    async create(role, label = null) {
      const key = `ms_${randomBytes(32).toString('base64url')}`;
      return { record: await insert(key, role, label), key };
    },
    async ensure(key, role) {
      const existing = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('key_hash', '=', hashKey(key))
        .executeTakeFirst();
      // A revoked bootstrap key stays revoked: revocation through the API is an admin's decision, which a
      // restart with the old environment must not undo.
      if (existing?.revoked_at) return toRecord(existing);
      if (existing) {
        const row = await db
          .updateTable('api_keys')
          .set({ role })
          .where('id', '=', existing.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toRecord(row);
      }
      return insert(key, role, 'bootstrap (ADMIN_API_KEY)');
    },
    async verify(key) {
      const row = await db
        .updateTable('api_keys')
        .set({ last_used_at: new Date() })
        .where('key_hash', '=', hashKey(key))
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      return row ? toRecord(row) : null;
    },
    async revoke(id) {
      const row = await db
        .updateTable('api_keys')
        .set({ revoked_at: new Date() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      return row !== undefined;
    },
    async list() {
      const rows = await db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').execute();
      return rows.map((r) => toRecord(r));
    },
  };
}

/** Mints a key and records who did it: the API, the CLI and the control socket all create keys this way. */
export async function createAuditedKey(
  storage: Pick<Storage, 'keys' | 'audit'>,
  role: Role,
  label: string | null,
  actor: string,
): Promise<{ record: ApiKeyRecord; key: string }> {
  const created = await storage.keys.create(role, label);
  await storage.audit.write({
    actor,
    action: 'key.create',
    target: created.record.id,
    details: { role },
  });
  return created;
}
