/**
 * Named signals: facts about a message that mean the same thing in any site's mail, whatever corpus the
 * model was trained on (Rspamd calls them symbols). Each is a feature `x:<name>` whose weight is learned
 * like any other, so a signal that misleads on a site is corrected by its feedback; each also shows up by
 * name in a verdict's explanation. None of them reads relay host names, list footers or recipient
 * addresses: those describe how a corpus was collected, not what the mail is.
 *
 * Pure and bounded: every pattern runs on capped input and cannot backtrack quadratically.
 */
import { parse as parseHost } from 'tldts';
import { type Header, headerValue, type ParsedMessage } from './mime.js';

export const SIGNAL_PREFIX = 'x:';

/** Every signal, with what it means (docs/classifier.md lists them from here). */
export const SIGNALS = {
  'link-text-domain': 'a link whose visible text names another domain than the one its href goes to',
  'url-ip-literal': 'a link to a bare IP address',
  'url-punycode': 'a link to an internationalised (xn--) host, the usual form of lookalike domains',
  'url-shortener': 'a link through a URL shortener, which hides where it goes',
  'credential-words': 'asks to verify, confirm, update or unlock an account, password or login',
  'html-form': 'an HTML form in the message',
  'html-password-input': 'an HTML password field in the message',
  'html-hidden-text': 'HTML text styled invisible (display:none, visibility:hidden, zero size or opacity)',
  'image-only': 'HTML with images and almost no text',
  'zero-width': 'zero-width characters inside a word of Latin, Greek or Cyrillic letters or digits',
  'mixed-script': 'words mixing Latin with Cyrillic or Greek letters (lookalike spelling)',
  'attach-executable': 'an executable or script attachment',
  'attach-macro': 'an office document that can carry macros',
  'attach-double-ext': 'an attachment name with a document extension before an executable one',
  'from-name-address': "a From display name carrying an address of another domain than the sender's",
  'reply-to-other-domain': 'Reply-To in another domain than From',
  'date-impossible': 'a Date header that cannot be true (bad weekday, out-of-range field, far year)',
  'bulk-mailer':
    'bulk-sender traits: Precedence bulk or junk, or List-Unsubscribe without a discussion List-Id',
} as const;

export type SignalName = keyof typeof SIGNALS;

/**
 * Signals the message's bytes cannot show, named by the pipeline: sender authentication's (auth/signals.ts:
 * `spf-pass`, `dkim-pass-aligned`, `dmarc-fail-reject` …), known only from the connection and DNS. Their
 * features are added to the message's before scoring and learning; deduplicated and sorted, so the same
 * results give the same list (the verdict cache keys on it).
 */
export function signalFeatures(names: readonly string[]): string[] {
  return [...new Set(names)].sort().map((name) => SIGNAL_PREFIX + name);
}

const SHORTENERS = new Set([
  'bit.ly',
  'bitly.com',
  'tinyurl.com',
  'goo.gl',
  't.co',
  'ow.ly',
  'is.gd',
  'buff.ly',
  'rebrand.ly',
  'cutt.ly',
  'shorturl.at',
  'tiny.cc',
  'rb.gy',
  's.id',
  'v.gd',
  't.ly',
  'lnkd.in',
  'qrco.de',
]);

const EXECUTABLE = new Set([
  'exe',
  'scr',
  'com',
  'pif',
  'bat',
  'cmd',
  'js',
  'jse',
  'vbs',
  'vbe',
  'wsf',
  'wsh',
  'hta',
  'msi',
  'jar',
  'lnk',
  'ps1',
  'cpl',
  'iso',
  'img',
]);
const MACRO = new Set(['docm', 'xlsm', 'pptm', 'dotm', 'xltm', 'xlam', 'ppsm']);
const DOCUMENT = new Set([
  'pdf',
  'doc',
  'docx',
  'xls',
  'xlsx',
  'txt',
  'jpg',
  'png',
  'zip',
  'rtf',
  'htm',
  'html',
]);

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Lower-case host of an http(s) URL (no port, no credentials, no leading www.), or null. */
export function urlHost(url: string): string | null {
  const m = /^\s*https?:\/\/(?:[^\s/@?#]{0,200}@)?([^\s/:?#"'<>]{1,253})/i.exec(url);
  return m
    ? (m[1] as string)
        .toLowerCase()
        .replace(/^www\./, '')
        .replace(/\.$/, '')
    : null;
}

/**
 * Hosts are read by the Public Suffix List (tldts), its private section included: two blogs on blogspot.com
 * or two sites on github.io have different owners, as two companies under .co.uk do.
 */
const PSL = { allowPrivateDomains: true, extractHostname: false } as const;

/**
 * The registrable domain of a host (news.zdf.de → zdf.de, a.b.shop.co.uk → shop.co.uk), or the host itself
 * when it has none (an IP address, a single label).
 */
export function registrableDomain(host: string): string {
  return parseHost(host, PSL).domain ?? host;
}

const IPV4_HOST = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IP_HOST = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]|0x[0-9a-f]+|\d{8,10})$/i;
/** A domain-looking token in link text: labels of letters/digits/hyphens ending in a 2+ letter TLD. */
const DOMAIN_IN_TEXT = /(?:https?:\/\/)?((?:[a-z0-9-]{1,63}\.){1,6}[a-z]{2,12})\b/i;

function linkTextDomain(text: string): string | null {
  if (text.length > 200) return null;
  const m = DOMAIN_IN_TEXT.exec(text);
  if (!m) return null;
  const host = (m[1] as string).toLowerCase().replace(/^www\./, '');
  // "e.g." or "v1.2" are not domains: a TLD needs letters and the text must look like a name.
  if (!/\.[a-z]{2,}$/.test(host) || /^\d+(\.\d+)+$/.test(host)) return null;
  // Nor are "report.pdf" or "Dr.Jones": a name is a domain only under a listed public suffix.
  const parsed = parseHost(host, PSL);
  return parsed.isIcann || parsed.isPrivate ? host : null;
}

function addressesIn(text: string): string[] {
  return [
    ...text.slice(0, 2048).matchAll(/[a-z0-9._%+-]{1,64}@([a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8})/gi),
  ].map((m) => (m[1] as string).toLowerCase());
}

function angleAddressDomain(from: string): string | null {
  const angle = /<[^<>\s@]{1,64}@([^<>\s@]{1,253})>/.exec(from);
  if (angle) return (angle[1] as string).toLowerCase();
  const bare = addressesIn(from);
  return bare.length > 0 ? (bare[bare.length - 1] as string) : null;
}

/** True when the Date header cannot be right: unparsable, fields out of range, or the wrong weekday. */
export function impossibleDate(date: string): boolean {
  const clean = date
    .replace(/\([^()]{0,100}\)/g, '')
    .trim()
    .slice(0, 200);
  const m =
    /^(?:([a-z]{3})[a-z]*,?\s+)?(\d{1,2})\s+([a-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?/i.exec(
      clean,
    );
  if (!m) return Number.isNaN(Date.parse(clean));
  const day = Number(m[2]);
  const month = MONTHS.indexOf((m[3] as string).toLowerCase());
  let year = Number(m[4]);
  if ((m[4] as string).length === 2) year += year < 50 ? 2000 : 1900;
  const hour = Number(m[5]);
  const minute = Number(m[6]);
  const second = m[7] === undefined ? 0 : Number(m[7]);
  if (month < 0 || day < 1 || hour > 23 || minute > 59 || second > 60) return true;
  if (year < 1990 || year > 2100) return true;
  const civil = new Date(Date.UTC(year, month, day));
  if (civil.getUTCDate() !== day) return true; // 31 Apr, 30 Feb
  if (m[1] !== undefined) {
    const stated = WEEKDAYS.indexOf((m[1] as string).toLowerCase());
    if (stated >= 0 && stated !== civil.getUTCDay()) return true;
  }
  return false;
}

export const CREDENTIAL =
  /\b(?:verify|confirm|update|validate|reactivate|unlock|restore|re-?enter)\b[^.!?\n]{0,60}\b(?:account|password|passcode|login|log-in|credentials|mailbox|identity|billing)\b|\b(?:account|mailbox|password)\b[^.!?\n]{0,40}\b(?:suspended|locked|expire[sd]?|disabled|limited|deactivated)\b/i;
/** Every CREDENTIAL match holds one of these words: a text without one is answered by a plain search
 * (a fraction of a microsecond for 5 KB) instead of CREDENTIAL's attempt at every word boundary (about 9). */
const CREDENTIAL_OBJECT = /account|password|passcode|login|log-in|credentials|mailbox|identity|billing/i;
const ZERO_WIDTH_CHAR = /[\u200b-\u200d\u2060\u180e\ufeff]/;
/**
 * Zero-width characters inside a word of a script that spaces its words (Latin, Greek, Cyrillic): "V\u200biagra"
 * reads as one word and tokenises as two. Elsewhere they have work to do: joiners build emoji sequences and
 * shape Arabic and Indic letters, and newsletters pad their preview text with `&zwnj;`.
 */
const SPACED_LETTER = '[\\p{Script=Latin}\\p{Script=Greek}\\p{Script=Cyrillic}\\p{Nd}]';
const ZERO_WIDTH_IN_WORD = new RegExp(
  `${SPACED_LETTER}[\\u200b-\\u200d\\u2060\\u180e\\ufeff]+${SPACED_LETTER}`,
  'u',
);
/**
 * Greek and Cyrillic letters, both cases, and the few outside those blocks that case-fold into them. Listed
 * rather than matched case-insensitively: U+00B5 MICRO SIGN folds to Greek MU, and a unit in Latin text
 * ("5 µg", "µm") is not a lookalike letter.
 */
const GREEK_OR_CYRILLIC_LETTER = '\\u0345\\u0370-\\u03ff\\u0400-\\u04ff\\u1c80-\\u1c87\\u1fbe';
/**
 * Letters that mix with Latin in ordinary technical text and look like no Latin letter: μ (micro, "5 μg"),
 * Ω (ohm, "10kΩ"), Δ ("ΔT"). Text normalisation turns MICRO SIGN and OHM SIGN into these, so they are left
 * out of the lookalikes below.
 */
const UNIT_LETTER = '\u03bc\u03a9\u0394';
/** A word containing a Latin letter next to a Cyrillic or Greek one (either order), unit letters aside. */
export const MIXED_SCRIPT = new RegExp(
  `[A-Za-z](?![${UNIT_LETTER}])[${GREEK_OR_CYRILLIC_LETTER}]|(?![${UNIT_LETTER}])[${GREEK_OR_CYRILLIC_LETTER}][A-Za-z]`,
);
/** Every MIXED_SCRIPT match holds one of these: looking for one alone takes half the time, and most mail has
 * none. */
const GREEK_OR_CYRILLIC = new RegExp(`[${GREEK_OR_CYRILLIC_LETTER}]`);

/** CREDENTIAL, MIXED_SCRIPT and ZERO_WIDTH_IN_WORD tested, each after its cheaper necessary condition. */
export const credentialWords = (t: string): boolean => CREDENTIAL_OBJECT.test(t) && CREDENTIAL.test(t);
export const mixedScript = (t: string): boolean => GREEK_OR_CYRILLIC.test(t) && MIXED_SCRIPT.test(t);
const zeroWidthInWord = (t: string): boolean => ZERO_WIDTH_CHAR.test(t) && ZERO_WIDTH_IN_WORD.test(t);

function attachmentSignals(names: readonly string[], into: Set<SignalName>): void {
  for (const name of names) {
    const parts = name.toLowerCase().trim().split('.');
    if (parts.length < 2) continue;
    const ext = parts[parts.length - 1] as string;
    if (EXECUTABLE.has(ext)) into.add('attach-executable');
    if (MACRO.has(ext)) into.add('attach-macro');
    if (parts.length >= 3 && EXECUTABLE.has(ext) && DOCUMENT.has(parts[parts.length - 2] as string))
      into.add('attach-double-ext');
  }
}

function headerSignals(headers: Header[], from: string | null, into: Set<SignalName>): void {
  const fromDomain = from ? angleAddressDomain(from) : null;
  if (from && fromDomain) {
    // Display name = everything but the <address>; an address of another domain there impersonates.
    const name = from.replace(/<[^<>]{0,300}>/g, ' ');
    for (const domain of addressesIn(name))
      if (registrableDomain(domain) !== registrableDomain(fromDomain)) into.add('from-name-address');
  }
  const replyTo = headerValue(headers, 'reply-to');
  if (replyTo && fromDomain) {
    const rt = angleAddressDomain(replyTo.slice(0, 2048));
    if (rt && registrableDomain(rt) !== registrableDomain(fromDomain)) into.add('reply-to-other-domain');
  }
  const date = headerValue(headers, 'date');
  if (date !== null && impossibleDate(date)) into.add('date-impossible');
  // A discussion list (List-Id) is not a bulk sender: its members write the mail.
  const precedence = headerValue(headers, 'precedence');
  const newsletter =
    headerValue(headers, 'list-unsubscribe') !== null && headerValue(headers, 'list-id') === null;
  if (newsletter || (precedence && /^\s*(?:bulk|junk)\b/i.test(precedence))) into.add('bulk-mailer');
}

/** HTML with images and fewer letters (UTF-16 units of \p{L} code points) than this is image-only. */
const IMAGE_ONLY_LETTERS = 200;
const LETTER_RUN = /\p{L}+/gu;

/** `from` plus the letters of `text`, counted only until the total reaches `enough` (all the test needs). */
function countLetters(text: string, from: number, enough: number): number {
  let letters = from;
  LETTER_RUN.lastIndex = 0;
  for (let m = LETTER_RUN.exec(text); m !== null && letters < enough; m = LETTER_RUN.exec(text))
    letters += m[0].length;
  return letters;
}

/** Text scanned for word-level signals: the first 20 000 characters of each part. */
const TEXT_CAP = 20_000;

/** The named signals a parsed message shows. `from` is the decoded From header. */
export function messageSignals(parsed: ParsedMessage, from: string | null): SignalName[] {
  const found = new Set<SignalName>();
  const hosts = new Set<string>();
  for (const href of parsed.hrefs) {
    const host = urlHost(href);
    if (host) hosts.add(host);
  }
  for (const text of parsed.texts) {
    for (const m of text.slice(0, TEXT_CAP).matchAll(/https?:\/\/[^\s"'<>]{1,300}/gi)) {
      const host = urlHost(m[0]);
      if (host) hosts.add(host);
      if (hosts.size > 200) break;
    }
  }
  for (const host of hosts) {
    if (IP_HOST.test(host) || IPV4_HOST.test(host)) found.add('url-ip-literal');
    if (host.split('.').some((label) => label.startsWith('xn--'))) found.add('url-punycode');
    if (SHORTENERS.has(host)) found.add('url-shortener');
  }
  for (const link of parsed.html.links) {
    const target = urlHost(link.href);
    const shown = linkTextDomain(link.text);
    if (target && shown && registrableDomain(target) !== registrableDomain(shown)) {
      found.add('link-text-domain');
      break;
    }
  }
  if (parsed.html.form) found.add('html-form');
  if (parsed.html.passwordInput) found.add('html-password-input');
  if (parsed.html.hiddenText) found.add('html-hidden-text');
  let letters = 0;
  for (const text of parsed.texts) {
    const t = text.slice(0, TEXT_CAP);
    if (credentialWords(t)) found.add('credential-words');
    if (zeroWidthInWord(t)) found.add('zero-width');
    if (mixedScript(t)) found.add('mixed-script');
    if (letters < IMAGE_ONLY_LETTERS) letters = countLetters(t, letters, IMAGE_ONLY_LETTERS);
  }
  if (parsed.hasHtml && parsed.html.images > 0 && letters < IMAGE_ONLY_LETTERS) found.add('image-only');
  else if (letters < 20 && parsed.contentTypes.some((c) => c.startsWith('image/'))) found.add('image-only');
  attachmentSignals(parsed.attachmentNames, found);
  headerSignals(parsed.headers, from, found);
  return [...found].sort();
}
