/**
 * The console overview's figures: messages by action over a window, top senders and sender domains. Whole
 * UTC days of the window come from the per-day rollups (kept exact by triggers, migration 0010): by action a
 * handful of rows, by sender one row per sender and day, never the week's messages themselves. Only the part
 * of the window before its first UTC midnight, when `since` is not one, is counted from the log (a range
 * scan of under a day). The counts are exact either way.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Db } from './db.js';

export type ActionCounts = Record<string, number>;

export interface Overview {
  byAction: ActionCounts;
  topSenders: { sender: string; count: number }[];
  topDomains: { domain: string; count: number }[];
}

export interface StatsStore {
  byAction(since: Date): Promise<ActionCounts>;
  overview(since: Date, top?: number): Promise<Overview>;
}

const DAY_MS = 86_400_000;

/** The first UTC midnight at or after `t`. */
export function nextUtcMidnight(t: Date): Date {
  return new Date(Math.ceil(t.getTime() / DAY_MS) * DAY_MS);
}

/** (key, n) over the window from `since`: the rollup's whole days plus the log's rows before the first. */
function counted(
  since: Date,
  rollup: 'message_action_counts' | 'message_sender_counts',
): RawBuilder<unknown> {
  const firstDay = nextUtcMidnight(since);
  const key = rollup === 'message_action_counts' ? sql.raw('action') : sql.raw('sender');
  const ofRow = rollup === 'message_action_counts' ? sql.raw('action') : sql.raw('lower(mail_from)');
  return sql`
    select ${key} as key, n from ${sql.raw(rollup)} where day >= ${firstDay.toISOString().slice(0, 10)}::date
    union all
    select ${ofRow}, 1 from messages where received_at >= ${since} and received_at < ${firstDay}`;
}

export function createStatsStore(db: Db): StatsStore {
  async function byAction(since: Date): Promise<ActionCounts> {
    const r = await sql<{ key: string; n: string }>`
      select key, sum(n) as n from (${counted(since, 'message_action_counts')}) c group by key`.execute(db);
    return Object.fromEntries(r.rows.map((row) => [row.key, Number(row.n)]));
  }
  return {
    byAction,
    async overview(since, top = 10) {
      // One pass over the senders' rollup for both lists (the CTE is read twice, so computed once).
      const tops = await sql<{ kind: 'sender' | 'domain'; name: string; n: string }>`
        with s as (select key as sender, sum(n) as n from (${counted(since, 'message_sender_counts')}) c
          group by key)
        select * from (select 'sender' as kind, sender as name, n from s where sender <> ''
          order by n desc, sender limit ${top}) senders
        union all
        select * from (select 'domain', split_part(sender, '@', 2), sum(n) from s where sender like '%@%'
          group by 2 order by 3 desc, 2 limit ${top}) domains`.execute(db);
      const list = (kind: 'sender' | 'domain') =>
        tops.rows.filter((r) => r.kind === kind).map((r) => ({ name: r.name, count: Number(r.n) }));
      return {
        byAction: await byAction(since),
        topSenders: list('sender').map(({ name, count }) => ({ sender: name, count })),
        topDomains: list('domain').map(({ name, count }) => ({ domain: name, count })),
      };
    },
  };
}
