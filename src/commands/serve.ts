/** `mailsentra serve` (= `npm start`): the SMTP proxy until SIGTERM/SIGINT, then a graceful stop. */
import cluster from 'node:cluster';
import { createApp } from '../app.js';
import type { Command } from '../cli.js';
import { runPrimary } from '../cluster/primary.js';
import { runWorker } from '../cluster/worker.js';
import { commandConfig } from './context.js';

export const run: Command = async (_args, ctx) => {
  const config = commandConfig(ctx);
  if (config.smtp.processes > 1) return cluster.isPrimary ? runPrimary(config) : runWorker(config);
  const app = await createApp(config);
  await app.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      app.logger.info({ event: 'SHUTDOWN', signal }, 'stopping: no new sessions, finishing those in flight');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await app.stop();
  return 0;
};
