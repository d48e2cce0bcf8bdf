/**
 * What the digest keeps: when each recipient last got one (and whether they switched it off), which release
 * tokens were spent, and the HMAC key its links are signed with when the config gives none.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from './db.js';

export interface DigestRecipient {
  recipient: string;
  /** Held rows and when the last digest went (null: never). */
  held: number;
  lastSentAt: Date | null;
  disabled: boolean;
}

/** One recipient's digest setting; `enabled` is true for recipients never seen. */
export interface DigestPreference {
  recipient: string;
  enabled: boolean;
  lastSentAt: Date | null;
}

export interface DigestStore {
  /** Recipients with held rows created after their last digest, and those rows' count. */
  due(): Promise<DigestRecipient[]>;
  /** Held rows of one recipient created after `since` (all when null), newest first, at most `limit`. */
  heldFor(
    recipient: string,
    since: Date | null,
    limit: number,
  ): Promise<
    { id: string; mailFrom: string; subject: string | null; score: number | null; createdAt: Date }[]
  >;
  /**
   * Takes the recipient's next digest: moves its last-sent time from `previous` to `at`, unless another
   * instance did first (false). `release` puts `previous` back when the digest could not be sent.
   */
  claim(recipient: string, previous: Date | null, at: Date): Promise<boolean>;
  release(recipient: string, previous: Date | null, at: Date): Promise<void>;
  setDisabled(recipient: string, disabled: boolean): Promise<void>;
  preference(recipient: string): Promise<DigestPreference>;
  /** Recipients who opted out, by address, at most `limit`. */
  optedOut(limit: number): Promise<DigestPreference[]>;
  /** Records a spent token; false when it was spent before (single use). */
  spend(tokenHash: string): Promise<boolean>;
  /** Gives a spent token back (its action failed, e.g. the next hop refused the release). */
  unspend(tokenHash: string): Promise<void>;
  /** The stored HMAC key, created on first use. */
  signingKey(): Promise<Buffer>;
}

export function createDigestStore(db: Db): DigestStore {
  return {
    async due() {
      const rows = await sql<{
        recipient: string;
        held: string;
        last_sent_at: Date | null;
        disabled: boolean | null;
      }>`
        select lower(q.recipient) as recipient, count(*) as held, d.last_sent_at, d.disabled
        from quarantine q
        left join digest_recipients d on d.recipient = lower(q.recipient)
        where q.state = 'held' and (d.last_sent_at is null or q.created_at > d.last_sent_at)
        group by lower(q.recipient), d.last_sent_at, d.disabled`.execute(db);
      return rows.rows.map((r) => ({
        recipient: r.recipient,
        held: Number(r.held),
        lastSentAt: r.last_sent_at ? new Date(r.last_sent_at) : null,
        disabled: r.disabled === true,
      }));
    },
    async heldFor(recipient, since, limit) {
      let q = db
        .selectFrom('quarantine')
        .select(['id', 'mail_from', 'subject', 'score', 'created_at'])
        .where(sql`lower(recipient)`, '=', recipient.toLowerCase())
        .where('state', '=', 'held');
      if (since) q = q.where('created_at', '>', since);
      const rows = await q.orderBy('created_at', 'desc').limit(limit).execute();
      return rows.map((r) => ({
        id: r.id,
        mailFrom: r.mail_from,
        subject: r.subject,
        score: r.score,
        createdAt: new Date(r.created_at),
      }));
    },
    async claim(recipient, previous, at) {
      const row = await sql<{ recipient: string }>`
        insert into digest_recipients (recipient, last_sent_at, disabled) values (${recipient.toLowerCase()}, ${at}, false)
        on conflict (recipient) do update set last_sent_at = excluded.last_sent_at
        where digest_recipients.last_sent_at is not distinct from ${previous}::timestamptz
        returning recipient`.execute(db);
      return row.rows.length === 1;
    },
    async release(recipient, previous, at) {
      await db
        .updateTable('digest_recipients')
        .set({ last_sent_at: previous })
        .where('recipient', '=', recipient.toLowerCase())
        .where('last_sent_at', '=', at)
        .execute();
    },
    async setDisabled(recipient, disabled) {
      await db
        .insertInto('digest_recipients')
        .values({ recipient: recipient.toLowerCase(), last_sent_at: null, disabled })
        .onConflict((oc) => oc.column('recipient').doUpdateSet({ disabled }))
        .execute();
    },
    async preference(recipient) {
      const r = recipient.toLowerCase();
      const row = await db
        .selectFrom('digest_recipients')
        .select(['disabled', 'last_sent_at'])
        .where('recipient', '=', r)
        .executeTakeFirst();
      return {
        recipient: r,
        enabled: row?.disabled !== true,
        lastSentAt: row?.last_sent_at ? new Date(row.last_sent_at) : null,
      };
    },
    async optedOut(limit) {
      const rows = await db
        .selectFrom('digest_recipients')
        .select(['recipient', 'last_sent_at'])
        .where('disabled', '=', true)
        .orderBy('recipient')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        recipient: r.recipient,
        enabled: false,
        lastSentAt: r.last_sent_at ? new Date(r.last_sent_at) : null,
      }));
    },
    async spend(tokenHash) {
      const row = await db
        .insertInto('digest_tokens_used')
        .values({ token_hash: tokenHash, used_at: new Date() })
        .onConflict((oc) => oc.column('token_hash').doNothing())
        .returning('token_hash')
        .executeTakeFirst();
      return row !== undefined;
    },
    async unspend(tokenHash) {
      await db.deleteFrom('digest_tokens_used').where('token_hash', '=', tokenHash).execute();
    },
    async signingKey() {
      const fresh = randomBytes(32).toString('base64url');
      await db
        .insertInto('settings')
        .values({ key: 'digest.signingKey', value: fresh })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      const row = await db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'digest.signingKey')
        .executeTakeFirstOrThrow();
      return Buffer.from(row.value, 'base64url');
    },
  };
}
