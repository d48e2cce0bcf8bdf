/**
 * `serve` with `smtp.processes` > 1: this process forks that many SMTP workers sharing the listener
 * (node:cluster) so every core scores and relays mail, and itself runs the API, serving /metrics aggregated
 * over all processes. A worker that dies is replaced; SIGTERM drains the workers (each finishes its sessions
 * in flight, bounded by shutdownGraceMs) before the primary stops; SIGHUP reloads the configuration here and
 * sends the workers its policy.
 */

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { createApp } from '../app.js';
import { configReloader } from '../commands/reload.js';
import { secretValues } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CliError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import { isToPrimary, type ToWorker, WORKER_CONFIG_ENV } from './messages.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const PRIMARY_ONLY = new Set(['mailsentra_quarantine_messages']);

/** `reloadsFrom` takes the SIGHUP handler once the cluster is ready (src/commands/reload.ts). */
export async function runPrimary(
  config: Config,
  reread: () => Config,
  reloadsFrom: (reload: () => void) => void,
): Promise<number> {
  const logger = createLogger(config.log.level, undefined, secretValues(config)).child({ role: 'primary' });
  const workers = new Set<Worker>();
  const pending = new Map<number, (metrics: MetricsJson) => void>();
  let nextRequest = 0;
  let stopping = false;

  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      // Runs with the configuration in force: the start's, with the policy of the last reload.
      const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(reloader.inForce()) });
      workers.add(worker);
      worker.on('message', (m: unknown) => {
        if (isToPrimary(m)) pending.get(m.id)?.(m.metrics);
      });
      // A send to a worker whose channel just closed fails here, not in this process's stop.
      worker.on('error', (err) =>
        logger.warn(
          { event: 'WORKER_CHANNEL_FAILED', pid: worker.process.pid, err: err.message },
          'worker channel failed',
        ),
      );
      worker.once('listening', () => resolve());
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        retire(worker);
        if (stopping) return;
        logger.error({ event: 'WORKER_EXITED', pid: worker.process.pid, code, signal }, 'smtp worker exited');
        reject(
          new CliError(
            'WORKER_START_FAILED',
            code || 1,
            `an SMTP worker stopped before it listened (exit ${code ?? signal}; its own line says why)`,
          ),
        );
        // Replace a worker that died while serving; a start that failed stops everything (below) instead.
        setTimeout(() => {
          if (!stopping) void fork().catch(() => undefined);
        }, 1000).unref();
      });
    });

  const broadcast = (message: ToWorker) => {
    // A worker disconnecting meanwhile misses it: it is stopping, and its replacement starts in the state
    // in force. The error is the worker's 'error' event, logged above.
    for (const w of workers) if (w.isConnected()) w.send(message, undefined, () => {});
  };

  /** Each worker's last answer to a scrape. */
  const lastSeen = new Map<Worker, MetricsJson>();
  /** The counters and histograms of workers that exited, as they last answered: a replacement starts from
   * zero, and Prometheus would read the drop as a reset (every `increase()` alert fires on the next rise).
   * Appended at the exit, in the same turn, so no scrape misses one; merged after scrapes. */
  let retired: MetricsJson[] = [];
  const retire = (worker: Worker) => {
    const last = lastSeen.get(worker);
    lastSeen.delete(worker);
    // prom-client's typings call the type an enum; its JSON carries the name ('counter', 'histogram').
    if (last) retired.push(last.filter((m) => ['counter', 'histogram'].includes(String(m.type))));
  };
  let merging = false;
  const mergeRetired = async () => {
    const n = retired.length;
    if (n < 2 || merging) return;
    merging = true;
    try {
      const merged = await AggregatorRegistry.aggregate(retired.slice(0, n)).getMetricsAsJSON();
      retired = [merged, ...retired.slice(n)]; // any exit meanwhile was appended after the n merged
    } finally {
      merging = false;
    }
  };
  /** What only the primary reports for the cluster (read from the database at the scrape). */
  const withoutPrimaryOnly = (part: MetricsJson) => part.filter((m) => !PRIMARY_ONLY.has(m.name));

  const metricsText = async (): Promise<string> => {
    // A worker stays in the set until it exits, but its channel closes when it disconnects, before: a
    // scrape in between must leave it out, not fail (an unhandled send error would end the primary).
    const polled = [...workers];
    const answers = await Promise.all(
      polled.map(
        (w) =>
          new Promise<MetricsJson | null>((resolve) => {
            if (!w.isConnected()) return resolve(null);
            const id = nextRequest++;
            const done = (metrics: MetricsJson | null) => {
              clearTimeout(timer);
              pending.delete(id);
              resolve(metrics);
            };
            const timer = setTimeout(() => done(null), 2000);
            pending.set(id, done);
            w.send({ kind: 'metrics', id } satisfies ToWorker, undefined, (err) => {
              if (err) done(null);
            });
          }),
      ),
    );
    // A worker that did not answer counts as it last did, so its counters do not drop for a scrape; one
    // that exited meanwhile is in `retired` already.
    const parts = polled.flatMap((w, i) => {
      if (!workers.has(w)) return [];
      const answer = answers[i] ?? null;
      if (answer) lastSeen.set(w, answer);
      const part = answer ?? lastSeen.get(w);
      return part ? [withoutPrimaryOnly(part)] : [];
    });
    const text = await AggregatorRegistry.aggregate([
      await app.metrics.registry.getMetricsAsJSON(),
      ...parts,
      ...retired,
    ]).metrics();
    await mergeRetired();
    return text;
  };

  // The primary scores only what the API is given (scan, feedback): inline, without a thread pool of its own
  // beside the workers'.
  const app = await createApp(
    { ...config, scanner: { ...config.scanner, workers: 0 } },
    {
      logger,
      roles: { smtp: false, api: true },
      onFeedback: () => broadcast({ kind: 'check-feedback' }),
      onActivated: () => broadcast({ kind: 'check-model' }),
      metricsText,
    },
  );
  const reloader = configReloader({
    initial: config,
    reread,
    apply: (next) => {
      app.reloadPolicy(next.policy);
      broadcast({ kind: 'reload-policy', policy: next.policy });
    },
    logger,
  });
  /** Drains the workers (each finishes its sessions, bounded by shutdownGraceMs), then stops the app. */
  const stopAll = async () => {
    stopping = true;
    const exited = [...workers].map((w) => new Promise((resolve) => w.once('exit', resolve)));
    for (const w of workers) w.process.kill('SIGTERM');
    // A worker's own stop takes the grace, then the messages still being decided (a relay bounded by
    // relay.timeoutMs), then its flush of the verdict log and the store's close: killed only past all that.
    const deadline = setTimeout(
      () => {
        for (const w of workers) w.process.kill('SIGKILL');
      },
      config.shutdownGraceMs + config.relay.timeoutMs + 15_000,
    );
    await Promise.all(exited);
    clearTimeout(deadline);
    await app.stop();
  };

  // Workers migrate nothing and find the active model ready: the primary opened the database first.
  let apiPort: number;
  try {
    await Promise.all(Array.from({ length: config.smtp.processes }, fork));
    ({ apiPort } = await app.start());
  } catch (err) {
    // A start that failed (a worker could not listen, nor the API) stops everything, rather than
    // replacing workers that would fail the same way while nothing listens.
    await stopAll();
    throw err;
  }
  logger.info(
    { event: 'CLUSTER_READY', processes: config.smtp.processes, apiPort },
    'smtp workers listening',
  );

  reloadsFrom(reloader.reload);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ event: 'SHUTDOWN', signal }, 'stopping: workers finish the sessions in flight');
  await stopAll();
  return 0;
}
