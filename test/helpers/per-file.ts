/**
 * What a test file's tests share (a service and what drives it): started in beforeAll, stopped in afterAll.
 * The value returned stands in for it from the file's top level, so tests read it as a plain object; reading
 * it before beforeAll has run is a mistake and throws.
 */
import { afterAll, beforeAll } from 'vitest';

export function perFile<T extends object>(
  start: () => Promise<T>,
  stop: (value: T) => Promise<void>,
  timeoutMs = 120_000,
): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  }, timeoutMs);
  afterAll(async () => {
    if (started) await stop(started);
  });
  // Only property reads are forwarded: the stand-in is read, never written or enumerated.
  return new Proxy({} as T, {
    get(_target, key) {
      if (!started) throw new Error(`read ${String(key)} inside a test: it starts in beforeAll`);
      return Reflect.get(started, key);
    },
  });
}
