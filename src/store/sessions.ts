/**
 * Console sessions: the cookie holds 32 random bytes; only their SHA-256 is stored, so a read of the table
 * gives no usable session. A session lives until its expiry, its sign-out, or the revocation of the API key
 * it was opened with (checked at every request through the join).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';
import type { ApiKeyRecord, Role } from './types.js';

export interface UiSession {
  key: ApiKeyRecord;
  csrf: string;
  expiresAt: Date;
}

export interface SessionStore {
  open(key: ApiKeyRecord, ttlMs: number): Promise<{ token: string; csrf: string; expiresAt: Date }>;
  /** The live session of a cookie value, or null (unknown, expired, or its key revoked). */
  find(token: string): Promise<UiSession | null>;
  close(token: string): Promise<void>;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export function createSessionStore(db: Db): SessionStore {
  return {
    async open(key, ttlMs) {
      const token = randomBytes(32).toString('base64url');
      const csrf = randomBytes(24).toString('base64url');
      const now = new Date();
      const expiresAt = new Date(now.getTime() + ttlMs);
      // Expired sessions go when someone signs in: sign-ins are rare, and the table stays small.
      await db.deleteFrom('ui_sessions').where('expires_at', '<', now).execute();
      await db
        .insertInto('ui_sessions')
        .values({ id_hash: hash(token), key_id: key.id, csrf, created_at: now, expires_at: expiresAt })
        .execute();
      return { token, csrf, expiresAt };
    },
    async find(token) {
      if (token.length === 0 || token.length > 100) return null;
      const row = await db
        .selectFrom('ui_sessions')
        .innerJoin('api_keys', 'api_keys.id', 'ui_sessions.key_id')
        .select([
          'ui_sessions.csrf',
          'ui_sessions.expires_at',
          'api_keys.id',
          'api_keys.role',
          'api_keys.label',
          'api_keys.created_at',
          'api_keys.last_used_at',
        ])
        .where('ui_sessions.id_hash', '=', hash(token))
        .where('ui_sessions.expires_at', '>', new Date())
        .where('api_keys.revoked_at', 'is', null)
        .executeTakeFirst();
      if (!row) return null;
      return {
        csrf: row.csrf,
        expiresAt: new Date(row.expires_at),
        key: {
          id: row.id,
          role: row.role as Role,
          label: row.label,
          createdAt: new Date(row.created_at),
          lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
          revokedAt: null,
        },
      };
    },
    async close(token) {
      await db.deleteFrom('ui_sessions').where('id_hash', '=', hash(token)).execute();
    },
  };
}
