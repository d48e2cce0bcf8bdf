/**
 * An SMTP worker of the cluster: the whole message pipeline (scanner, policy, relay, quarantine, verdict log)
 * on the listener it shares with its siblings, without the API. It follows the primary's feedback and
 * activations, and hands its metrics to the primary, which serves /metrics for all.
 */
import cluster from 'node:cluster';
import { createApp } from '../app.js';
import type { Config } from '../config/schema.js';
import { isToWorker } from './messages.js';

export async function runWorker(config: Config): Promise<number> {
  // The primary reloads the configuration for every process and sends the workers its policy (below); a
  // hangup of the terminal's process group, which reaches the workers too, must not end them.
  process.on('SIGHUP', () => {});
  const app = await createApp(config, { roles: { smtp: true, api: false } });
  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    const handle = async () => {
      if (message.kind === 'check-feedback') await app.feedbackSync.sync();
      else if (message.kind === 'check-model') await app.modelSync.check();
      else if (message.kind === 'reload-policy') app.reloadPolicy(message.policy);
      else if (message.kind === 'metrics')
        process.send?.({
          kind: 'metrics',
          id: message.id,
          metrics: await app.metrics.registry.getMetricsAsJSON(),
        });
    };
    handle().catch((err: unknown) =>
      app.logger.error(
        { event: 'CLUSTER_MESSAGE_FAILED', kind: message.kind, err: (err as Error).message },
        'cluster message failed',
      ),
    );
  });
  try {
    await app.start();
  } catch (err) {
    await app.stop();
    // The channel to the primary would keep this process alive. Closed through the worker, so that the
    // process then exits with the failure's code (a bare disconnect makes a worker exit 0 at once); the
    // primary learns of the failure from that exit.
    cluster.worker?.disconnect();
    throw err;
  }
  await new Promise<void>((resolve) => {
    // Kept for the whole stop, not once: a supervisor signals the whole process group (systemd's
    // KillMode=control-group), then the primary signals each worker again, and a second SIGTERM with no
    // handler would end the worker in the middle of its drain.
    process.on('SIGTERM', () => resolve());
    process.on('SIGINT', () => resolve());
    // The primary gone means nobody will ever signal this worker: stop as if told to.
    process.once('disconnect', () => resolve());
  });
  app.logger.info({ event: 'SHUTDOWN', role: 'smtp-worker' }, 'stopping: finishing sessions in flight');
  await app.stop();
  if (process.connected) process.disconnect();
  return 0;
}
