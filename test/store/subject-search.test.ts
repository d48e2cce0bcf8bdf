/**
 * Subject search is a substring match (the API's `subject` filter); a trigram index (pg_trgm, migration
 * 0005) serves it on the real Postgres and on the embedded PGlite alike.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { type Backend, backends, storageOn } from '../helpers/db.js';
import { logEntry } from '../helpers/log-entry.js';

const logged = (subject: string | null) => logEntry({ subject });

describe.each(backends)('subject search on %s', (backend: Backend) => {
  const db = storageOn(backend);

  it('finds any part of a subject, case-insensitively, through the trigram index', async () => {
    const rows = [
      logged('Quarterly REPORT for Q3'),
      logged('Your invoice 100% paid'),
      logged('Лучшие цены: Отчёт'),
      logged(null),
      ...Array.from({ length: 200 }, (_, i) => logged(`newsletter ${i}`)),
    ];
    for (const r of rows) db.storage.messages.record(r);
    await db.storage.messages.flush();
    const ids = async (subject: string) =>
      (await db.storage.messages.list({ subject })).items.map((m) => m.id);
    expect(await ids('rly rep')).toEqual([rows[0]?.id]);
    expect(await ids('100%')).toEqual([rows[1]?.id]);
    expect(await ids('отчёт')).toEqual([rows[2]?.id]);
    expect(await ids('no such subject')).toEqual([]);

    // The planner takes the index when a scan is not cheaper (this table is small, so scans are turned off).
    const plan = await db.storage.db.connection().execute(async (conn) => {
      await sql`set enable_seqscan = off`.execute(conn);
      try {
        const r = await sql<{
          'QUERY PLAN': string;
        }>`explain select id from messages where lower(subject) like ${'%rly rep%'}`.execute(conn);
        return r.rows.map((row) => row['QUERY PLAN']).join('\n');
      } finally {
        await sql`reset enable_seqscan`.execute(conn);
      }
    });
    expect(plan).toContain('messages_subject_trgm');
  });
  /** `count` logged messages, the subject numbered, the newest `newest` old and each `apart` before the last. */
  async function insertMessages(count: number, m: { subject: string; newest: string; apart: string }) {
    await sql`
      insert into messages (id, received_at, session_id, mail_from, rcpt_to, subject, size, content_hash,
        action, reason, total_ms, status)
      select gen_random_uuid(), now() - ${m.newest}::interval - i * ${m.apart}::interval, 's', 'a@example.org',
        array['b@example.net'], ${m.subject} || i, 1, 'h', 'pass', 'r', 1, 'delivered'
      from generate_series(1, ${count}::int) as i`.execute(db.storage.db);
  }
  /** Every page of a subject search, following the cursor. */
  async function allPages(subject: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await db.storage.messages.list({ subject, limit, cursor });
      ids.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return ids;
  }

  it('pages newest first whether the matches are among the newest rows or far behind them', async () => {
    // 60 old rows that match, behind 6 000 newer rows that do not; and a common term in every newer row.
    await insertMessages(60, { subject: 'Old Receipt ', newest: '30 days', apart: '1 minute' });
    await insertMessages(6000, { subject: 'daily digest ', newest: '1 day', apart: '1 second' });
    const expected = async (pattern: string) =>
      (
        await sql<{ id: string }>`select id from messages where lower(subject) like ${pattern}
          order by received_at desc, id desc`.execute(db.storage.db)
      ).rows.map((r) => r.id);

    const old = await allPages('old receipt', 25);
    expect(old).toHaveLength(60);
    expect(old).toEqual(await expected('%old receipt%'));
    const common = await db.storage.messages.list({ subject: 'DAILY digest', limit: 50 });
    expect(common.items.map((m) => m.id)).toEqual((await expected('%daily digest%')).slice(0, 50));
    expect(common.nextCursor).not.toBeNull();
  });
});
