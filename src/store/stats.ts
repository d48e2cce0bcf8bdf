/**
 * The console overview's figures: messages by action over a window, top senders and sender domains. Whole
 * UTC days of the window come from the per-day rollup `message_counts` (kept exact by triggers, migration
 * 0009), so a week is a few thousand rollup rows rather than every message of the week; only the part of the
 * window before its first UTC midnight, if `since` is not one, is counted from the log itself (a range scan
 * of under a day). The counts are exact either way.
 */
import { sql } from 'kysely';
import type { Db } from './db.js';

export interface Overview {
  byAction: Record<string, number>;
  topSenders: { sender: string; count: number }[];
  topDomains: { domain: string; count: number }[];
}

export interface StatsStore {
  overview(since: Date, top?: number): Promise<Overview>;
}

const DAY_MS = 86_400_000;

/** The first UTC midnight at or after `t`. */
export function nextUtcMidnight(t: Date): Date {
  return new Date(Math.ceil(t.getTime() / DAY_MS) * DAY_MS);
}

export function createStatsStore(db: Db): StatsStore {
  return {
    async overview(since, top = 10) {
      const firstDay = nextUtcMidnight(since);
      const day = firstDay.toISOString().slice(0, 10);
      // (action, sender, n) over the window: rollup days, plus the log's rows before the first whole day.
      const counted = sql`
        select action, sender, n from message_counts where day >= ${day}::date
        union all
        select action, lower(mail_from), 1 from messages where received_at >= ${since} and received_at < ${firstDay}`;
      const actions = await sql<{ action: string; n: string }>`
        select action, sum(n) as n from (${counted}) c group by action`.execute(db);
      const senders = await sql<{ sender: string; n: string }>`
        select sender, sum(n) as n from (${counted}) c where sender <> ''
        group by 1 order by 2 desc, 1 limit ${top}`.execute(db);
      const domains = await sql<{ domain: string; n: string }>`
        select split_part(sender, '@', 2) as domain, sum(n) as n from (${counted}) c where sender like '%@%'
        group by 1 order by 2 desc, 1 limit ${top}`.execute(db);
      return {
        byAction: Object.fromEntries(actions.rows.map((r) => [r.action, Number(r.n)])),
        topSenders: senders.rows.map((r) => ({ sender: r.sender, count: Number(r.n) })),
        topDomains: domains.rows.map((r) => ({ domain: r.domain, count: Number(r.n) })),
      };
    },
  };
}
