/**
 * `mailsentra apikey create --role admin|analyst [--label TEXT]`: prints a new API key (shown only once).
 * With a service running on the embedded store, the service mints it (see service.ts), so it works at once.
 */
import type { Command } from '../cli.js';
import { createAuditedKey } from '../store/keys.js';
import { closest } from '../util/closest.js';
import { commandConfig, parseArgs, usageError, withStorage } from './context.js';
import { runningService } from './service.js';

const USAGE = 'usage: mailsentra apikey create --role admin|analyst [--label TEXT]';

export const run: Command = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (sub !== 'create') {
    const meant = sub === undefined ? null : closest(sub, ['create']);
    throw usageError(
      sub === undefined
        ? 'apikey needs a subcommand'
        : `unknown subcommand '${sub}'${meant ? ` (did you mean ${meant}?)` : ''}`,
      USAGE,
    );
  }
  const { flags, rest: extra } = parseArgs(rest, { values: ['--role', '--label'], usage: USAGE });
  if (extra.length > 0) throw usageError(`unexpected '${extra[0]}'`, USAGE);
  const role = flags.get('--role')?.[0];
  if (role === undefined) throw usageError('--role is required', USAGE);
  if (role !== 'admin' && role !== 'analyst')
    throw usageError(`--role must be admin or analyst, got '${role}'`, USAGE);
  const label = flags.get('--label')?.[0] ?? null;
  const config = commandConfig(ctx);
  const service = await runningService(config, ctx);
  let key: string;
  if (service) {
    try {
      key = (await service.call('apikey.create', { role, label })).key;
    } finally {
      service.close();
    }
  } else {
    key = (await withStorage(config, (storage) => createAuditedKey(storage, role, label, 'cli'))).key;
  }
  ctx.stdout.write(`${key}\n`);
  return 0;
};
