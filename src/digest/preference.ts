/**
 * A recipient's digest preference (on, or opted out), set by the recipient through their digest's
 * subscription link or by an admin (API and console): one place that reads the address, stores the choice
 * and audits it. The digest job skips recipients who opted out (job.ts `isDue`).
 */
import { httpErrors } from '../errors.js';
import { EntryError, parseEntryValue } from '../lists/entry.js';
import type { DigestPreference } from '../store/digest.js';
import type { Storage } from '../store/types.js';

/** The recipient address as stored (lower case); a 400 naming `field` when it is not one address. */
export function recipientAddress(input: string, field = 'recipient'): string {
  try {
    const parsed = parseEntryValue(input);
    if (parsed.kind === 'sender') return parsed.value;
  } catch (err) {
    if (!(err instanceof EntryError)) throw err;
  }
  throw httpErrors.badRequest(`${field} is not an address: ${input.slice(0, 100)}`);
}

export async function setDigestPreference(
  storage: Pick<Storage, 'digest' | 'audit'>,
  input: { recipient: string; enabled: boolean },
  actor: string,
): Promise<DigestPreference> {
  const recipient = recipientAddress(input.recipient);
  await storage.digest.setDisabled(recipient, !input.enabled);
  await storage.audit.write({
    actor,
    action: input.enabled ? 'digest.subscribe' : 'digest.unsubscribe',
    target: recipient,
    details: {},
  });
  return storage.digest.preference(recipient);
}
