/** `mailsentra migrate`: applies pending database migrations (they also run at every start). */

import type { Command } from '../cli.js';
import { secretValues } from '../config/load.js';
import { createLogger } from '../observability/log.js';
import { migrate, openDb } from '../store/db.js';
import { commandConfig } from './context.js';

export const run: Command = async (_args, ctx) => {
  const config = commandConfig(ctx);
  const logger = createLogger(config.log.level, undefined, secretValues(config));
  const opened = await openDb(config);
  try {
    const applied = await migrate(opened.db);
    ctx.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    logger.debug({ event: 'MIGRATED', applied }, 'migrations applied');
    return 0;
  } finally {
    await opened.close();
  }
};
