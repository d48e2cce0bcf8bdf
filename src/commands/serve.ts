/**
 * `mailsentra serve` (= `npm start`): the SMTP proxy until SIGTERM/SIGINT, then a graceful stop; SIGHUP
 * reloads the configuration (reload.ts).
 */
import type { App } from '../app.js';
import type { Command } from '../cli.js';
import { WORKER_CONFIG_ENV } from '../cluster/messages.js';
import type { Config } from '../config/schema.js';
import { CliError } from '../errors.js';
import { openDb } from '../store/db.js';
import { commandConfig } from './config.js';
import { configReloader, holdReloads } from './reload.js';

export const run: Command = async (args, ctx) => {
  // Settings come from the config file and the environment; an argument here is a slip, not an option.
  if (args.length > 0)
    throw new CliError(
      'USAGE',
      2,
      `unexpected '${args[0]}'; usage: mailsentra [--config FILE] serve (settings come from the file and the environment)`,
    );
  // A cluster worker runs with the configuration its primary has in force (validated there, sent as JSON),
  // not with the file as it is now.
  const fromPrimary = process.env[WORKER_CONFIG_ENV];
  if (fromPrimary !== undefined)
    return (await import('../cluster/worker.js')).runWorker(JSON.parse(fromPrimary) as Config);
  const config = commandConfig(ctx);
  const reread = () => commandConfig(ctx);
  const reloadsFrom = ctx.reloadsFrom ?? holdReloads(process);
  if (config.smtp.processes > 1)
    return (await import('../cluster/primary.js')).runPrimary(config, reread, reloadsFrom);
  // The embedded database's start (PGlite in its own thread) is most of a restart: it runs while the
  // service's modules load, instead of after. Its refusal (a data directory another process holds) is
  // awaited, and reported, by createApp; until then it must not count as an unhandled rejection.
  const embedded = config.database.url === null ? openDb(config) : null;
  embedded?.catch(() => {});
  const { createApp } = await import('../app.js');
  const app = await createApp(config, embedded ? { storage: { opened: embedded } } : {});
  try {
    await app.start();
  } catch (err) {
    // What did open (the database's thread, the control socket, timers) would keep the process alive, a
    // service that listens on nothing.
    await app.stop();
    throw err;
  }
  const reloader = configReloader({
    initial: config,
    reread,
    apply: (next) => app.reloadPolicy(next.policy),
    logger: app.logger,
  });
  reloadsFrom(reloader.reload);
  return runUntilStopped(app, process);
};

/**
 * Runs until SIGTERM or SIGINT (exit 0), or until the embedded database stops on its own (exit 75,
 * EX_TEMPFAIL: a start recovers it from its WAL, a supervisor restarts on it, and the MTAs upstream keep
 * the mail they could not hand over meanwhile); stops the app gracefully either way.
 */
export async function runUntilStopped(
  app: Pick<App, 'logger' | 'failed' | 'stop'>,
  signals: Pick<NodeJS.EventEmitter, 'once'>,
): Promise<number> {
  const failure = await new Promise<Error | null>((resolve) => {
    const stop = (signal: string) => {
      app.logger.info({ event: 'SHUTDOWN', signal }, 'stopping: no new sessions, finishing those in flight');
      resolve(null);
    };
    signals.once('SIGTERM', () => stop('SIGTERM'));
    signals.once('SIGINT', () => stop('SIGINT'));
    void app.failed.then(resolve);
  });
  await app.stop();
  return failure ? 75 : 0;
}
