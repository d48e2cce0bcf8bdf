/**
 * `mailsentra migrate`: applies pending database migrations (they also run at every start). With a service
 * running on the embedded store, the service applies them (it already did at its start).
 */
import type { Command } from '../cli.js';
import { secretValues } from '../config/load.js';
import { createLogger } from '../observability/log.js';
import { firstQueryError, migrate, openDb } from '../store/db.js';
import { commandConfig, usageError } from './context.js';
import { runningService } from './service.js';

export const run: Command = async (args, ctx) => {
  if (args.length > 0) throw usageError(`unexpected '${args[0]}'`, 'usage: mailsentra migrate');
  const config = commandConfig(ctx);
  const logger = createLogger(config.log.level, undefined, secretValues(config));
  const service = await runningService(config, ctx);
  let applied: string[];
  if (service) {
    try {
      applied = (await service.call('migrate', {})).applied;
    } finally {
      service.close();
    }
  } else {
    const opened = await openDb(config);
    try {
      applied = await migrate(opened.db);
    } catch (err) {
      throw firstQueryError(err, config.database.url);
    } finally {
      await opened.close();
    }
  }
  const where = service ? ' (through the running service)' : '';
  ctx.stdout.write(
    applied.length > 0 ? `applied${where}: ${applied.join(', ')}\n` : `database is up to date${where}\n`,
  );
  logger.debug({ event: 'MIGRATED', applied }, 'migrations applied');
  return 0;
};
