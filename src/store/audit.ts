import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { parseJson, storableJson, storableText, storableTextOrNull } from './text.js';
import type { AuditLog } from './types.js';

export function createAuditLog(db: Db): AuditLog {
  return {
    async write(entry) {
      await db
        .insertInto('audit_log')
        .values({
          id: randomUUID(),
          at: new Date(),
          actor: storableText(entry.actor),
          action: entry.action,
          target: storableTextOrNull(entry.target),
          details: storableJson(entry.details),
        })
        .execute();
    },
    async list(limit = 100) {
      const rows = await db.selectFrom('audit_log').selectAll().orderBy('at', 'desc').limit(limit).execute();
      return rows.map((r) => ({
        id: r.id,
        at: new Date(r.at),
        actor: r.actor,
        action: r.action,
        target: r.target,
        details: parseJson(r.details),
      }));
    },
  };
}
