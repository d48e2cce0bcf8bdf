/** Adding and removing database list entries, audited and applied at once (the API and the console). */
import { HttpError, httpErrors } from '../errors.js';
import type { SenderListStore } from '../store/lists.js';
import type { AuditLog } from '../store/types.js';
import type { ListCache } from './cache.js';
import { EntryError, type ListEntry, type ListName, parseEntryValue, parseScope } from './entry.js';

export interface ListEditDeps {
  storage: { lists: SenderListStore; audit: AuditLog };
  listCache: ListCache;
}

export async function addListEntry(
  deps: ListEditDeps,
  input: { list: ListName; value: string; scope?: string; alignedOnly?: boolean },
  actor: string,
): Promise<ListEntry> {
  let parsed: ReturnType<typeof parseEntryValue>;
  let scope: string;
  try {
    parsed = parseEntryValue(input.value);
    scope = parseScope(input.scope);
  } catch (err) {
    if (err instanceof EntryError) throw new HttpError(400, err.code, err.message);
    throw err;
  }
  const entry = await deps.storage.lists.add({
    list: input.list,
    ...parsed,
    scope,
    // As in the config file: an allow entry for a whole domain applies only to mail that authenticates as
    // that domain (SPF or DKIM aligned), unless asked otherwise; anyone can write any domain in MAIL FROM.
    alignedOnly: input.alignedOnly ?? (input.list === 'allow' && parsed.kind === 'domain'),
    createdBy: actor,
  });
  await deps.storage.audit.write({
    actor,
    action: `lists.${input.list}.add`,
    target: entry.id,
    details: { kind: entry.kind, value: entry.value, scope: entry.scope, alignedOnly: entry.alignedOnly },
  });
  await deps.listCache.refresh();
  return entry;
}

export async function removeListEntry(deps: ListEditDeps, id: string, actor: string): Promise<ListEntry> {
  const entry = await deps.storage.lists.remove(id);
  if (!entry) throw httpErrors.notFound('list entry');
  await deps.storage.audit.write({
    actor,
    action: `lists.${entry.list}.remove`,
    target: entry.id,
    details: { kind: entry.kind, value: entry.value, scope: entry.scope },
  });
  await deps.listCache.refresh();
  return entry;
}
