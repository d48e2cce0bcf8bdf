/**
 * A Piscina pool running a module that sits next to the caller: `name.js` when compiled, `name.ts` under vitest
 * or tsx (then each thread needs the tsx loader as well).
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

export function workerPool(
  callerUrl: string,
  name: string,
  options: { threads: number; idleTimeoutMs?: number; maxQueue?: number },
): Piscina {
  const ts = callerUrl.endsWith('.ts');
  const filename = fileURLToPath(new URL(`./${name}.${ts ? 'ts' : 'js'}`, callerUrl));
  return new Piscina({
    filename,
    minThreads: options.threads,
    maxThreads: options.threads,
    idleTimeout: options.idleTimeoutMs ?? 60_000,
    ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
    ...(ts
      ? {
          execArgv: [
            '--import',
            fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url)),
          ],
        }
      : {}),
  });
}
