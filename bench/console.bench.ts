/**
 * Console query figures in real Postgres: 1 000 000 verdict-log rows and 50 000 quarantine rows (generated in
 * SQL, spread over 30 days, 2 000 senders), then p50/p95 of the console's queries through the storage layer
 * the pages use: log search by sender, by subject substring (terms of several selectivities), by time range,
 * the overview's counts, and the quarantine page (held, newest first, 100 rows; and the same filtered by
 * recipient). Prints figures; never fails on them.
 * `npx tsx bench/console.bench.ts` (DATABASE_URL defaults to the local Postgres; a scratch database is made
 * and dropped).
 */
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/observability/log.js';
import { createMetrics } from '../src/observability/metrics.js';
import { openStorage } from '../src/store/index.js';

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const LOG_ROWS = Number(process.env.BENCH_LOG_ROWS ?? 1_000_000);
const QUARANTINE_ROWS = Number(process.env.BENCH_QUARANTINE_ROWS ?? 50_000);
const RUNS = 40;
const dbName = `mailsentra_console_bench_${Date.now()}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`create database ${dbName}`);
const url = new URL(base);
url.pathname = `/${dbName}`;

const config = loadConfig({ file: null, env: {}, overrides: { database: { url: url.toString() } } });
const storage = await openStorage(config, {
  logger: silentLogger(),
  metrics: createMetrics({ defaultMetrics: false }),
});
const client = new pg.Client({ connectionString: url.toString() });
await client.connect();

try {
  let t = performance.now();
  await client.query(`
    insert into messages (id, received_at, session_id, client_ip, client_helo, mail_from, rcpt_to, message_id_header,
      header_from, subject, size, content_hash, score, action, reason, model_version, top_features, scan_ms,
      total_ms, status, response, raw)
    select gen_random_uuid(), now() - (i % 2592000) * interval '1 second', 's', '192.0.2.1', 'helo',
      'sender' || (i % 2000) || '@domain' || (i % 300) || '.example', array['user' || (i % 5000) || '@rcpt.example'],
      null, null, 'Subject ' || md5(i::text) || ' offer ' || (i % 977), 5000, md5(i::text), (i % 1000) / 1000.0,
      (array['pass','tag','quarantine','reject'])[1 + i % 4], 'bench', 'v1', '[]', 1, 2, 'delivered', '250', null
    from generate_series(1, ${LOG_ROWS}) as i`);
  console.log(`loaded ${LOG_ROWS} log rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  await client.query(`insert into quarantine_messages (id, raw, created_at)
    select gen_random_uuid(), 'x'::bytea, now() from generate_series(1, 1)`);
  await client.query(`
    insert into quarantine (id, message_id, recipient, mail_from, subject, header_from, score, reason, size, state,
      created_at, expires_at)
    select gen_random_uuid(), (select id from quarantine_messages limit 1), 'user' || (i % 5000) || '@rcpt.example',
      'sender' || (i % 2000) || '@domain' || (i % 300) || '.example', 'Held ' || md5(i::text), null, 0.99, 'bench',
      5000, case when i % 10 = 0 then 'released' else 'held' end, now() - (i % 604800) * interval '1 second',
      now() + interval '7 days'
    from generate_series(1, ${QUARANTINE_ROWS}) as i`);
  await client.query('analyze');
  console.log(
    `loaded ${QUARANTINE_ROWS} quarantine rows in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  async function measure(name: string, run: () => Promise<unknown>) {
    await run();
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      await run();
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const q = (p: number) =>
      (times[Math.min(times.length - 1, Math.floor(p * times.length))] as number).toFixed(1);
    console.log(`${name.padEnd(44)} p50 ${q(0.5).padStart(7)} ms   p95 ${q(0.95).padStart(7)} ms`);
  }
  const day = 86_400_000;
  await measure('log: sender', () =>
    storage.messages.list({ sender: 'sender42@domain42.example', limit: 50 }),
  );
  // Subject terms of different selectivity: one in a thousand rows, one message, none, and every row.
  await measure('log: subject substring (0.1 % of rows)', () =>
    storage.messages.list({ subject: 'offer 123', limit: 50 }),
  );
  await measure('log: subject substring (one message)', () =>
    storage.messages.list({ subject: 'c4ca4238a0b923', limit: 50 }),
  );
  await measure('log: subject substring (no match)', () =>
    storage.messages.list({ subject: 'no such subject', limit: 50 }),
  );
  await measure('log: subject substring (every row)', () =>
    storage.messages.list({ subject: 'offer', limit: 50 }),
  );
  await measure('log: time range (one day, 3 days ago)', () =>
    storage.messages.list({
      since: new Date(Date.now() - 4 * day),
      until: new Date(Date.now() - 3 * day),
      limit: 50,
    }),
  );
  // What the overview page asks: today by action, and the last 7 UTC days by action with top senders.
  const today = new Date(Math.floor(Date.now() / day) * day);
  await measure('overview: today by action', () => storage.stats.byAction(today));
  await measure('overview: 7 days, by action and top senders', () =>
    storage.stats.overview(new Date(today.getTime() - 6 * day)),
  );
  await measure('quarantine page: held, newest 100', () =>
    storage.quarantine.list({ state: 'held', limit: 100 }),
  );
  await measure('quarantine page: held for one recipient', () =>
    storage.quarantine.list({ state: 'held', recipient: 'user7@rcpt.example', limit: 100 }),
  );
} finally {
  await client.end();
  await storage.close();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
}
