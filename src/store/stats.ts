/**
 * The console overview's figures: messages by action over a window, top senders and sender domains. Reads
 * through the received_at index, so a week of a busy site is a range scan of that week, not of the log.
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

export function createStatsStore(db: Db): StatsStore {
  return {
    async overview(since, top = 10) {
      const actions = await sql<{ action: string; n: string }>`
        select action, count(*) as n from messages where received_at >= ${since} group by action`.execute(db);
      const senders = await sql<{ sender: string; n: string }>`
        select lower(mail_from) as sender, count(*) as n from messages
        where received_at >= ${since} and mail_from <> ''
        group by 1 order by 2 desc limit ${top}`.execute(db);
      const domains = await sql<{ domain: string; n: string }>`
        select lower(split_part(mail_from, '@', 2)) as domain, count(*) as n from messages
        where received_at >= ${since} and mail_from like '%@%'
        group by 1 order by 2 desc limit ${top}`.execute(db);
      return {
        byAction: Object.fromEntries(actions.rows.map((r) => [r.action, Number(r.n)])),
        topSenders: senders.rows.map((r) => ({ sender: r.sender, count: Number(r.n) })),
        topDomains: domains.rows.map((r) => ({ domain: r.domain, count: Number(r.n) })),
      };
    },
  };
}
