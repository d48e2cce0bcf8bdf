/** What every command needs first: the validated config (one line naming a bad key, otherwise). Apart from
 * context.ts so that `serve` can read it without loading the stores first. */
import type { CommandContext } from '../cli.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export function commandConfig(ctx: CommandContext): Config {
  return loadConfig(ctx.configFile === undefined ? {} : { file: ctx.configFile });
}
