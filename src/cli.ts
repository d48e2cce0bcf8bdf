#!/usr/bin/env node
/**
 * `mailsentra <command>`: each command lives in src/commands/<name>.ts and is imported only when used, so
 * `mailsentra scan` does not pay for the SMTP server or Fastify at start-up.
 */
import { isMainThread } from 'node:worker_threads';
import { holdReloads } from './commands/reload.js';
import { ConfigError } from './config/load.js';
import { ControlCallError } from './control/client.js';
import { CliError, RetiredModelFormatError } from './errors.js';

export interface CommandContext {
  /** `--config FILE` if given. */
  configFile: string | undefined;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** For `serve`: SIGHUP held since the process began (commands/reload.ts), given the reload when ready. */
  reloadsFrom?: ((reload: () => void) => void) | undefined;
}

export type Command = (args: string[], ctx: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: Command }> }> = {
  serve: {
    summary: 'the SMTP proxy, until SIGTERM (graceful stop)',
    load: () => import('./commands/serve.js'),
  },
  scan: {
    summary: 'scan [--json] PATH… — score raw RFC822 files (- is stdin)',
    load: () => import('./commands/scan.js'),
  },
  train: {
    summary: 'train [--corpus DIR…] — train, evaluate, store and activate a model',
    load: () => import('./commands/train.js'),
  },
  migrate: { summary: 'apply database migrations', load: () => import('./commands/migrate.js') },
  apikey: {
    summary: 'apikey create --role admin|analyst — print a new API key',
    load: () => import('./commands/apikey.js'),
  },
  eval: {
    summary: 'eval [--corpus DIR] — evaluate the active model',
    load: () => import('./commands/eval.js'),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: mailsentra [--config FILE] [--print-config] <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(
  argv: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
  reloadsFrom?: (reload: () => void) => void,
): Promise<number> {
  const args = [...argv];
  let configFile: string | undefined;
  let printConfig = false;
  while (args[0]?.startsWith('--')) {
    const flag = args.shift() as string;
    if (flag === '--config') {
      configFile = args.shift();
      if (configFile === undefined) {
        io.stderr.write('mailsentra: --config needs a file; usage: mailsentra --config FILE <command>\n');
        return 2;
      }
    } else if (flag === '--print-config') printConfig = true;
    else if (flag === '--help') {
      io.stdout.write(usage());
      return 0;
    } else {
      const { closest } = await import('./util/closest.js');
      const meant = closest(flag, ['--config', '--print-config', '--help']);
      io.stderr.write(
        `mailsentra: unknown option ${flag} (${meant ? `did you mean ${meant}? ` : ''}mailsentra --help lists the options)\n`,
      );
      return 2;
    }
  }
  const ctx: CommandContext = { configFile, stdout: io.stdout, stderr: io.stderr, reloadsFrom };
  if (printConfig) {
    const { loadConfig, maskSecrets } = await import('./config/load.js');
    const config = loadConfig(configFile === undefined ? {} : { file: configFile });
    io.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
    return 0;
  }
  const name = args.shift();
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    if (!name) {
      io.stderr.write(usage());
      return 2;
    }
    const { closest } = await import('./util/closest.js');
    const meant = closest(name, Object.keys(COMMANDS));
    io.stderr.write(
      `mailsentra: unknown command '${name}' (${meant ? `did you mean ${meant}? ` : ''}mailsentra --help lists the commands)\n`,
    );
    return 2;
  }
  const { run } = await command.load();
  try {
    return await run(args, ctx);
  } catch (err) {
    const known = knownError(err);
    if (!known) throw err;
    io.stderr.write(`mailsentra: ${known.message}\n`);
    return known.exitCode;
  }
}

/** A mistake or refusal the user can act on: one line and an exit code, no stack trace. */
function knownError(err: unknown): { message: string; exitCode: number } | null {
  if (err instanceof CliError || err instanceof RetiredModelFormatError) return err;
  if (err instanceof ConfigError) return { message: err.message, exitCode: 78 };
  if (err instanceof ControlCallError)
    return { message: `the running service refused: ${err.message}`, exitCode: 75 };
  return null;
}

// Only when executed, not when imported by tests.
// Never in a worker thread: threads inherit process.argv, and in the bundled build a thread could load this file.
const invokedAs = process.argv[1] ?? '';
const asCommand =
  invokedAs.endsWith('cli.js') || invokedAs.endsWith('cli.ts') || invokedAs.endsWith('mailsentra');
if (isMainThread && asCommand) {
  // From the first moment, before the command's modules load: Node's default for SIGHUP ends the process,
  // and `serve` promises to hold a reload asked for while it starts.
  const argv = process.argv.slice(2);
  main(argv, process, argv.includes('serve') ? holdReloads(process) : undefined).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      // One line in every case; the stack only for whoever asked for it (a bug report needs it).
      const known = knownError(err);
      const debug = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
      const text = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (known) process.stderr.write(`mailsentra: ${known.message}\n`);
      else if (debug && err instanceof Error) process.stderr.write(`mailsentra: ${err.stack ?? text}\n`);
      else process.stderr.write(`mailsentra: ${text} (LOG_LEVEL=debug shows where)\n`);
      process.exitCode = known?.exitCode ?? 1;
    },
  );
}
