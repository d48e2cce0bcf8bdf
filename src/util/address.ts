/**
 * The address in a From/Reply-To value, lower-cased: the one in angle brackets, else the first token with
 * text on both sides of an '@'; null when there is none. Linear in the value's length: a regular expression
 * for the bare form backtracks quadratically on a long run of address characters (a hostile 256 KiB From
 * without '@' held a message for seconds). Used by the classifier's header features and the DNS prefetch.
 */
export function addressIn(value: string): string | null {
  if (!value.includes('@')) return null;
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(value);
  if (angle) return (angle[1] as string).toLowerCase();
  for (const token of value.split(/[\s<>"',;:]+/)) {
    const at = token.indexOf('@');
    if (at > 0 && at < token.length - 1) return token.toLowerCase();
  }
  return null;
}
