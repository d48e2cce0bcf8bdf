/**
 * What can be done to a quarantine row, shared by the API, the console and the digest links. Release claims
 * the row first (held → releasing), so two releases of one row never both deliver; it hands the stored bytes
 * to the relay with the original sender and this row's recipient (never re-scanned) and settles the row:
 * released once relayed, else held again for a retry (502 RELAY_FAILED with the next hop's reply). Every
 * action is audited.
 */
import { httpErrors } from '../errors.js';
import { type FeedbackDeps, giveFeedback } from '../pipeline/feedback.js';
import type { Relay } from '../smtp/types.js';
import type { QuarantineItem, Storage } from '../store/types.js';

export interface QuarantineActionDeps extends FeedbackDeps {
  storage: Storage;
  relay: Relay;
}

export async function releaseItem(
  deps: QuarantineActionDeps,
  id: string,
  actor: string,
  learnAsHam: boolean,
): Promise<QuarantineItem> {
  const { storage } = deps;
  const claimed = await storage.quarantine.claimRelease(id, actor);
  if (!claimed) {
    const item = await storage.quarantine.get(id);
    if (!item) throw httpErrors.notFound('quarantine item');
    throw httpErrors.conflict(`item is ${item.state}, not held`);
  }
  let relayed = false;
  try {
    const raw = await storage.quarantine.getRaw(id);
    if (!raw) throw httpErrors.gone('quarantined message bytes are gone');
    const outcome = await deps.relay.send({ mailFrom: claimed.mailFrom, rcptTo: [claimed.recipient] }, raw);
    if (outcome.result !== 'ok') throw httpErrors.relayFailed(`next hop refused: ${outcome.response}`);
    relayed = true;
    await storage.audit.write({
      actor,
      action: 'quarantine.release',
      target: id,
      details: { recipient: claimed.recipient, messageId: claimed.messageId, response: outcome.response },
    });
    if (learnAsHam) await giveFeedback(deps, { raw, label: 'ham', messageId: claimed.messageId, actor });
  } finally {
    // Settled whatever happened after the claim: released once relayed, else back to held for a retry.
    await storage.quarantine.completeRelease(id, actor, relayed);
  }
  return { ...claimed, state: 'released' };
}

export async function deleteItems(storage: Storage, ids: string[], actor: string) {
  const changed = await storage.quarantine.remove(ids, actor);
  for (const row of changed)
    await storage.audit.write({
      actor,
      action: 'quarantine.delete',
      target: row.id,
      details: { messageId: row.messageId },
    });
  return changed;
}
