/**
 * `mailsentra apikey create --role admin|analyst [--label TEXT]`: prints a new API key (shown only once).
 * With a service running on the embedded store, the service mints it (see service.ts), so it works at once.
 */
import type { Command } from '../cli.js';
import { createAuditedKey } from '../store/keys.js';
import { commandConfig, parseArgs, withStorage } from './context.js';
import { runningService } from './service.js';

export const run: Command = async (args, ctx) => {
  const [sub, ...rest] = args;
  const { flags, unknown } = parseArgs(rest, { values: ['--role', '--label'] });
  const role = flags.get('--role')?.[0];
  if (sub !== 'create' || unknown.length > 0 || (role !== 'admin' && role !== 'analyst')) {
    ctx.stderr.write('usage: mailsentra apikey create --role admin|analyst [--label TEXT]\n');
    return 2;
  }
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
