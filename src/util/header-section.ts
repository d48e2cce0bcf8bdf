/**
 * Where a message's header section ends. The empty line ends it, and a message may begin with that line:
 * its header section is then empty (RFC 5322 §3.5), and a search for CRLF CRLF would instead find a blank
 * line inside the body and take the body's first lines for header fields.
 */

/** Bytes of the header section of `raw` (its fields with their CRLFs, without the empty line): 0 when the
 * message begins with its empty line, the whole message when it has none. */
export function headerSectionLength(raw: Buffer): number {
  if (raw[0] === 0x0d && raw[1] === 0x0a) return 0;
  const end = raw.indexOf('\r\n\r\n');
  return end === -1 ? raw.length : end + 2;
}
