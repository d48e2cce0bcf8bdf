/**
 * The database's allow/block entries as the policy reads them: a snapshot in memory, so the SMTP path never
 * waits on the database. Reloaded at once when this process changes an entry, and every `intervalMs` for
 * changes made by other instances. A failed reload keeps the last snapshot (logged once per outage).
 */
import type { Logger } from '../observability/log.js';
import type { SenderListStore } from '../store/lists.js';
import type { ListEntry } from './entry.js';

export interface ListCache {
  entries(): readonly ListEntry[];
  refresh(): Promise<void>;
  stop(): void;
}

export async function startListCache(
  store: SenderListStore,
  options: { intervalMs: number; logger: Logger },
): Promise<ListCache> {
  let snapshot: readonly ListEntry[] = [];
  let failing = false;
  async function refresh(): Promise<void> {
    try {
      snapshot = Object.freeze(await store.all());
      if (failing) options.logger.info({ event: 'LISTS_RELOADED' }, 'allow/block lists reloaded');
      failing = false;
    } catch (err) {
      if (!failing)
        options.logger.error(
          { event: 'LISTS_RELOAD_FAILED', err: (err as Error).message },
          'allow/block lists could not be reloaded; keeping the last ones',
        );
      failing = true;
    }
  }
  await refresh();
  const timer = setInterval(() => void refresh(), options.intervalMs);
  timer.unref();
  return {
    entries: () => snapshot,
    refresh,
    stop: () => clearInterval(timer),
  };
}
