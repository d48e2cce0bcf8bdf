/**
 * Every series of the metrics contract (docs/architecture.md) and of docs/operations.md, registered on a
 * registry owned by one service instance (no global registry, so two services in one test process do not
 * collide). Label values are bounded enums.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { filesystemSpace } from '../util/disk.js';

export type MessageAction = 'pass' | 'tag' | 'quarantine' | 'reject' | 'tempfail';
export type RelayResult = 'ok' | 'tempfail' | 'permfail';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DNS_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const SCORE_BUCKETS = Array.from({ length: 20 }, (_, i) => Number(((i + 1) * 0.05).toFixed(2)));

export function createMetrics(options: { defaultMetrics?: boolean; dataDir?: string } = {}) {
  const registry = new Registry();
  // The event-loop delay histogram samples on a timer: at prom-client's default 10 ms it wakes an idle
  // service 100 times a second, about 1 % of a core. A stall still shows at 50 ms, since it delays the next
  // sample by its own length.
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 50 });
  const m = {
    registry,
    messages: new Counter({
      name: 'mailsentra_messages_total',
      help: 'Messages handled, by final action',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    messageDuration: new Histogram({
      name: 'mailsentra_message_duration_seconds',
      help: 'End of DATA to the reply sent upstream',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    scanDuration: new Histogram({
      name: 'mailsentra_scan_duration_seconds',
      help: 'Parse + features + score of one message',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    spamScore: new Histogram({
      name: 'mailsentra_spam_score',
      help: 'Distribution of spam scores',
      buckets: SCORE_BUCKETS,
      registers: [registry],
    }),
    smtpSessions: new Gauge({
      name: 'mailsentra_smtp_sessions',
      help: 'Open inbound SMTP sessions',
      registers: [registry],
    }),
    relay: new Counter({
      name: 'mailsentra_relay_total',
      help: 'Deliveries to the next hop, by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'mailsentra_cache_lookups_total',
      help: 'Verdict cache lookups by tier and result',
      labelNames: ['tier', 'result'] as const,
      registers: [registry],
    }),
    cacheErrors: new Counter({
      name: 'mailsentra_cache_errors_total',
      help: 'Redis calls that failed or timed out (scoring went on without the cache)',
      registers: [registry],
    }),
    quarantineMessages: new Gauge({
      name: 'mailsentra_quarantine_messages',
      help: 'Quarantine rows held now',
      // Every process of a cluster reads the same database: aggregate to one value, not a sum.
      aggregator: 'max',
      registers: [registry],
    }),
    feedback: new Counter({
      name: 'mailsentra_feedback_total',
      help: 'Feedback received, by label',
      labelNames: ['label'] as const,
      registers: [registry],
    }),
    modelInfo: new Gauge({
      name: 'mailsentra_model_info',
      help: 'Active model version (value 1)',
      labelNames: ['version'] as const,
      aggregator: 'max',
      registers: [registry],
    }),
    logBufferRows: new Gauge({
      name: 'mailsentra_log_buffer_rows',
      help: 'Verdict-log rows waiting to be written',
      registers: [registry],
    }),
    logRowsDropped: new Counter({
      name: 'mailsentra_log_rows_dropped_total',
      help: 'Verdict-log rows dropped: the buffer was full, or Postgres refused the row for its content',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    logRawDropped: new Counter({
      name: 'mailsentra_log_raw_dropped_total',
      help: 'Verdict-log rows kept without their raw bytes: the buffer held logBuffer.maxRawBytes already',
      registers: [registry],
    }),
    authResults: new Counter({
      name: 'mailsentra_auth_results_total',
      help: 'Sender authentication results, by method (spf, dkim, dmarc, arc) and result',
      labelNames: ['method', 'result'] as const,
      registers: [registry],
    }),
    dnsLookupDuration: new Histogram({
      name: 'mailsentra_dns_lookup_duration_seconds',
      help: 'DNS lookups of sender authentication, by where the answer came from (memory, redis, network)',
      labelNames: ['source'] as const,
      buckets: DNS_BUCKETS,
      registers: [registry],
    }),
    dnsErrors: new Counter({
      name: 'mailsentra_dns_errors_total',
      help: 'DNS lookups that failed (the method reports temperror), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    logFlushErrors: new Counter({
      name: 'mailsentra_log_flush_errors_total',
      help: 'Batched verdict-log inserts that failed',
      registers: [registry],
    }),
    digests: new Counter({
      name: 'mailsentra_digest_total',
      help: 'Quarantine digests, by result (sent: the next hop accepted it)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    digestLastRun: new Gauge({
      name: 'mailsentra_digest_last_run_timestamp_seconds',
      help: 'When the digest job last completed a round (0: digests off or not run yet)',
      aggregator: 'max',
      registers: [registry],
    }),
  };
  // The data directory's filesystem, read at each scrape: the embedded store stops when Postgres cannot
  // create its next 16 MB WAL file, so a filling disk must be seen before then.
  const { dataDir } = options;
  if (dataDir) {
    const gauges = [
      {
        name: 'mailsentra_data_dir_free_bytes',
        help: 'Bytes free (to this user) on the filesystem of DATA_DIR (embedded database, model files)',
        field: 'free',
      },
      {
        name: 'mailsentra_data_dir_size_bytes',
        help: 'Size in bytes of the filesystem of DATA_DIR',
        field: 'size',
      },
    ] as const;
    for (const { name, help, field } of gauges) {
      new Gauge({
        name,
        help,
        // Every process of a cluster reads the same filesystem: its workers' figures are one figure.
        aggregator: 'max',
        registers: [registry],
        collect() {
          const space = filesystemSpace(dataDir);
          if (space) this.set(space[field]);
        },
      });
    }
  }
  for (const result of ['sent', 'failed'] as const) m.digests.inc({ result }, 0);
  for (const action of ['pass', 'tag', 'quarantine', 'reject', 'tempfail'] as const)
    m.messages.inc({ action }, 0);
  for (const result of ['ok', 'tempfail', 'permfail'] as const) m.relay.inc({ result }, 0);
  for (const tier of ['memory', 'redis'] as const)
    for (const result of ['hit', 'miss'] as const) m.cacheLookups.inc({ tier, result }, 0);
  for (const label of ['spam', 'ham'] as const) m.feedback.inc({ label }, 0);
  for (const reason of ['buffer_full', 'refused'] as const) m.logRowsDropped.inc({ reason }, 0);
  for (const reason of ['timeout', 'servfail', 'refused', 'badresp', 'budget'] as const)
    m.dnsErrors.inc({ reason }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Marks one model version active in `mailsentra_model_info`. */
export function setActiveModel(metrics: Metrics, version: string): void {
  metrics.modelInfo.reset();
  metrics.modelInfo.set({ version }, 1);
}
