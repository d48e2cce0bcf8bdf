/**
 * How many DKIM signatures a message gets verified. Each DKIM-Signature field with its own canonicalisation,
 * algorithm and body length (`l=`) makes mailauth hash the whole body once more, on the thread that answers
 * mail, and a time limit on the verification cannot stop a hash in progress: a message with hundreds of them
 * held every session for tens of seconds. RFC 6376 §6.1 lets a verifier bound the signatures it checks;
 * only the first ones (the topmost: the latest hops, the ones a forwarder or the author's domain added) are
 * verified here, as OpenDKIM's MaximumSignaturesToVerify does.
 */

/** DKIM signatures verified per message; the prefetch asks for the keys of these only. */
export const MAX_DKIM_SIGNATURES = 5;

const DKIM_FIELD = /^dkim-signature[ \t]*:/i;
const DKIM_FIELDS = /^dkim-signature[ \t]*:/gim;

/**
 * The message as the verifier reads it: `raw` itself, or a copy without the DKIM-Signature fields after the
 * first MAX_DKIM_SIGNATURES (each with its folded lines). `head` is raw's header block. The relayed
 * message is never this copy.
 */
export function withFirstSignatures(raw: Buffer, head: Buffer): Buffer {
  const text = head.toString('latin1');
  if ((text.match(DKIM_FIELDS)?.length ?? 0) <= MAX_DKIM_SIGNATURES) return raw;
  const kept: Buffer[] = [];
  let signatures = 0;
  let from = 0;
  for (let start = 0; start < text.length; ) {
    // A field runs to the line end that is not followed by folding white space.
    let end = text.indexOf('\n', start);
    while (end !== -1 && (text[end + 1] === ' ' || text[end + 1] === '\t')) end = text.indexOf('\n', end + 1);
    const stop = end === -1 ? text.length : end + 1;
    if (DKIM_FIELD.test(text.slice(start, start + 16)) && ++signatures > MAX_DKIM_SIGNATURES) {
      kept.push(raw.subarray(from, start));
      from = stop;
    }
    start = stop;
  }
  kept.push(raw.subarray(from));
  return Buffer.concat(kept);
}
