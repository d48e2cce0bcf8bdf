/**
 * The console overview's counts come from the per-day rollups kept by triggers (migration 0010): they must
 * equal what grouping the log itself gives, for any window start, after inserts, deletes and a truncate.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Overview } from '../../src/store/stats.js';
import { type Backend, backends, storageOn } from '../helpers/db.js';
import { logEntry } from '../helpers/log-entry.js';

const DAY = 86_400_000;
const ACTIONS = ['pass', 'tag', 'quarantine', 'reject'] as const;

describe.each(backends)('overview counts on %s', (backend: Backend) => {
  const db = storageOn(backend);

  /** The same figures grouped from the log directly: what the rollup must agree with. */
  async function fromLog(since: Date): Promise<Overview> {
    const actions = await sql<{ action: string; n: string }>`
      select action, count(*) as n from messages where received_at >= ${since} group by action`.execute(
      db.storage.db,
    );
    const senders = await sql<{ sender: string; n: string }>`
      select lower(mail_from) as sender, count(*) as n from messages where received_at >= ${since}
      and mail_from <> '' group by 1 order by 2 desc, 1 limit 10`.execute(db.storage.db);
    const domains = await sql<{ domain: string; n: string }>`
      select lower(split_part(mail_from, '@', 2)) as domain, count(*) as n from messages
      where received_at >= ${since} and mail_from like '%@%' group by 1 order by 2 desc, 1 limit 10`.execute(
      db.storage.db,
    );
    return {
      byAction: Object.fromEntries(actions.rows.map((r) => [r.action, Number(r.n)])),
      topSenders: senders.rows.map((r) => ({ sender: r.sender, count: Number(r.n) })),
      topDomains: domains.rows.map((r) => ({ domain: r.domain, count: Number(r.n) })),
    };
  }

  const windows = () => {
    const now = Date.now();
    const midnight = Math.floor(now / DAY) * DAY;
    // UTC midnights (today, a week), and starts inside a day, which the log itself must complete.
    return [midnight, midnight - 6 * DAY, now - 7 * DAY, now - 36 * 3_600_000, now - 40 * DAY].map(
      (t) => new Date(t),
    );
  };

  it('equals the log grouped directly, across days, senders and actions', async () => {
    const now = Date.now();
    const rows = Array.from({ length: 600 }, (_, i) =>
      logEntry({
        receivedAt: new Date(now - ((i * 7919) % (10 * DAY * 1000)) / 1000 - (i % 3) * 1000),
        action: ACTIONS[i % 4],
        mailFrom: i % 11 === 0 ? '' : `Sender${i % 13}@Domain${i % 5}.example`,
      }),
    );
    for (const r of rows) db.storage.messages.record(r);
    await db.storage.messages.flush();
    for (const since of windows()) {
      expect(await db.storage.stats.overview(since)).toEqual(await fromLog(since));
      expect(await db.storage.stats.byAction(since)).toEqual((await fromLog(since)).byAction);
    }
    expect(
      Object.values((await db.storage.stats.overview(new Date(0))).byAction).reduce((a, b) => a + b),
    ).toBe(600);
  });

  it('follows deletes (retention) and a truncate', async () => {
    const cutoff = new Date(Date.now() - 5 * DAY);
    await sql`delete from messages where received_at < ${cutoff} or action = 'tag'`.execute(db.storage.db);
    for (const since of windows()) {
      expect(await db.storage.stats.overview(since)).toEqual(await fromLog(since));
      expect(await db.storage.stats.byAction(since)).toEqual((await fromLog(since)).byAction);
    }
    const left = await sql<{ n: string }>`select (select count(*) from message_action_counts where n <= 0)
        + (select count(*) from message_sender_counts where n <= 0) as n`.execute(db.storage.db);
    expect(Number(left.rows[0]?.n)).toBe(0);
    await sql`truncate messages`.execute(db.storage.db);
    expect(await db.storage.stats.overview(new Date(0))).toEqual({
      byAction: {},
      topSenders: [],
      topDomains: [],
    });
  });
});
