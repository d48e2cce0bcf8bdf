/**
 * Threads running a module that sits next to the caller: `name.js` when compiled, `name.ts` under vitest or
 * tsx (then each thread needs the tsx loader as well). A Piscina pool, or the entry for a thread of its own.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';

/** A thread's entry module beside the caller, and the Node options its thread needs to load it. */
export function workerEntry(callerUrl: string, name: string): { filename: string; execArgv: string[] } {
  const ts = callerUrl.endsWith('.ts');
  return {
    filename: fileURLToPath(new URL(`./${name}.${ts ? 'ts' : 'js'}`, callerUrl)),
    execArgv: ts
      ? ['--import', fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url))]
      : [],
  };
}

export function workerPool(
  callerUrl: string,
  name: string,
  options: { threads: number; idleTimeoutMs?: number; maxQueue?: number },
): Piscina {
  const { filename, execArgv } = workerEntry(callerUrl, name);
  return new Piscina({
    filename,
    minThreads: options.threads,
    maxThreads: options.threads,
    idleTimeout: options.idleTimeoutMs ?? 60_000,
    ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
    ...(execArgv.length > 0 ? { execArgv } : {}),
  });
}
