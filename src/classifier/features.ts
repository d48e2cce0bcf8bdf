/**
 * Raw message → the features the model scores, as hashes of their strings (feature-list.ts). Pure apart
 * from per-thread caches, synchronous, never throws: it runs on every message. Feature families (prefix):
 *   s:  subject words and OSB pairs        w:  body words and OSB pairs
 *   n:  From display-name words            u:  URL hosts (full host and registrable-looking domain)
 *   h:  header facts that mean something in real mail (no relay host names, no recipient addresses:
 *       those are collection artefacts of a corpus, not signals)
 *   x:  named signals (signals.ts): link text naming another domain, credential words, hidden text …
 */

import { addressIn } from '../util/address.js';
import { FeatureCollector } from './feature-list.js';
import { decodeHeaderText, type Header, headerValue, type ParsedMessage, parseMessage } from './mime.js';
import { messageSignals, SIGNAL_PREFIX } from './signals.js';
import { DEFAULT_TOKENIZE, WordNormaliser } from './tokenize.js';
import type { MessageFeatures } from './types.js';

export type FeatureFamily = 'subject' | 'body' | 'osb' | 'name' | 'url' | 'header' | 'signal';
export const ALL_FAMILIES: readonly FeatureFamily[] = [
  'subject',
  'body',
  'osb',
  'name',
  'url',
  'header',
  'signal',
];

/**
 * Tags a filter put in front of a subject ("[SPAM] ", "***SPAM***", "{Spam?}"): ours on tagged mail a user
 * reports back, or an upstream filter's. They describe a verdict, not the message, and scoring them would
 * make the model learn its own (or another filter's) output.
 */
const FILTER_TAG =
  /^\s*(?:\[\s*spam\??\s*\]|\*{1,5}\s*spam\??\s*\*{1,5}|\{\s*spam\??\s*\}|\(\s*spam\??\s*\))\s*/i;

export function stripFilterTags(subject: string): string {
  let s = subject;
  for (let i = 0; i < 5; i++) {
    const m = FILTER_TAG.exec(s);
    if (!m) break;
    s = s.slice(m[0].length);
  }
  return s;
}

export interface FeatureOptions {
  /** Bytes of the message that are scored (the rest is ignored; `truncated` says so). */
  maxBytes: number;
  /** For ablation measurements; default all. */
  families?: readonly FeatureFamily[];
}

// One normaliser per thread (its word cache is the point), and one collector (its buffers are reused).
let normaliser: WordNormaliser | null = null;
let collector: FeatureCollector | null = null;

type Into = Pick<FeatureCollector, 'add'>;

const URL_IN_TEXT = /\bhttps?:\/\/([^\s/"'<>?#]+)/gi;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Header values are scored from their first 2 KiB: real headers are far shorter, and every pattern below
 * then runs on bounded input (a hostile 1 MB header cannot make a pattern's work explode).
 */
const MAX_HEADER_CHARS = 2048;

function cappedHeader(headers: Header[], name: string): string | null {
  const v = headerValue(headers, name);
  return v === null ? null : v.slice(0, MAX_HEADER_CHARS);
}

function decodedHeader(headers: Header[], name: string): string | null {
  const v = cappedHeader(headers, name);
  return v === null ? null : decodeHeaderText(v).slice(0, MAX_HEADER_CHARS);
}

// Patterns are written so no input makes them backtrack quadratically: each scan stops at the next
// delimiter instead of running to the end of the string and back (a test feeds them hostile headers).
export function displayName(from: string): string {
  return from
    .replace(/<[^<>]*>/g, ' ')
    .split(/\s+/)
    .filter((word) => !word.includes('@'))
    .join(' ')
    .replace(/["()]/g, ' ');
}

function domainFeatures(into: Into, host: string, prefix: string): void {
  const h = host
    .toLowerCase()
    .replace(/^www\./, '')
    .replace(/[:@].*$/, '');
  if (!h || h.length > 100) return;
  if (IPV4.test(h)) {
    into.add(`${prefix}ip-literal`);
    return;
  }
  into.add(prefix + h);
  const labels = h.split('.');
  if (labels.length > 2) into.add(prefix + labels.slice(-2).join('.'));
}

function bucket(n: number, edges: number[]): string {
  for (const e of edges) if (n <= e) return `${e}`;
  return `>${edges[edges.length - 1]}`;
}

function headerFacts(into: Into, parsed: ParsedMessage, subject: string | null, from: string | null): void {
  const h = parsed.headers;
  const root = (headerValue(h, 'content-type') ?? 'text/plain').split(';')[0]?.trim().toLowerCase() ?? '';
  into.add(`h:ct:${root.slice(0, 40)}`);
  for (const ct of new Set(parsed.contentTypes)) into.add(`h:part:${ct.slice(0, 40)}`);
  if (parsed.hasHtml && !parsed.hasPlain) into.add('h:html-only');
  for (const name of parsed.attachmentNames) {
    const ext = /\.([a-z0-9]{1,8})$/.exec(name)?.[1];
    into.add(ext ? `h:attach:${ext}` : 'h:attach:none');
  }
  for (const cs of new Set(parsed.charsets)) into.add(`h:charset:${cs.slice(0, 30)}`);
  const mailer = cappedHeader(h, 'x-mailer') ?? cappedHeader(h, 'user-agent');
  if (mailer) into.add(`h:mailer:${(mailer.split(/[\s/(;]/)[0] ?? '').toLowerCase().slice(0, 30)}`);
  else into.add('h:mailer:none');
  const received = h.filter((x) => x.name === 'received').length;
  into.add(`h:hops:${bucket(received, [0, 1, 2, 3, 4, 6, 9])}`);
  const date = cappedHeader(h, 'date');
  if (date === null) into.add('h:date:missing');
  else if (Number.isNaN(Date.parse(date.replace(/\([^()]*\)/g, '')))) into.add('h:date:unparsable');
  else {
    const tz = /([+-])(\d{2})(\d{2})$/.exec(date.replace(/\([^()]*\)/g, '').trim());
    if (tz && (Number(tz[2]) > 14 || Number(tz[3]) % 15 !== 0)) into.add('h:date:odd-zone');
  }
  const msgId = cappedHeader(h, 'message-id');
  if (msgId === null) into.add('h:msgid:missing');
  else if (!/^<[^<>@\s]+@[^<>@\s]+>$/.test(msgId.trim())) into.add('h:msgid:odd');
  if (subject === null || subject.trim() === '') into.add('h:subject:empty');
  else {
    const letters = subject.replace(/[^\p{L}]/gu, '');
    if (letters.length >= 8 && letters === letters.toUpperCase()) into.add('h:subject:all-caps');
    if (/!\s*$|!!/.test(subject)) into.add('h:subject:exclaim');
    if (/\$\d|\d%/.test(subject)) into.add('h:subject:money');
  }
  const fromAddr = from ? addressIn(from) : null;
  if (!fromAddr) into.add('h:from:no-address');
  else {
    const domain = fromAddr.split('@')[1] ?? '';
    domainFeatures(into, domain, 'h:from-domain:');
    if (/\d{3,}/.test(fromAddr.split('@')[0] ?? '')) into.add('h:from:digits');
  }
  const replyTo = cappedHeader(h, 'reply-to');
  if (replyTo && fromAddr && addressIn(replyTo) !== fromAddr) into.add('h:reply-to:differs');
  if (!headerValue(h, 'mime-version') && parsed.contentTypes.some((c) => c !== 'text/plain'))
    into.add('h:mime-version:missing');
  for (const w of parsed.warnings) into.add(`h:warn:${w.split(' ').slice(0, 2).join('-')}`);
}

export function extractFeatures(raw: Buffer, options: FeatureOptions): MessageFeatures {
  const families = new Set(options.families ?? ALL_FAMILIES);
  const truncated = raw.length > options.maxBytes;
  const scanned = truncated ? raw.subarray(0, options.maxBytes) : raw;
  const parsed = parseMessage(scanned);
  normaliser ??= new WordNormaliser();
  collector ??= new FeatureCollector();
  const norm = normaliser;
  const into = collector;
  into.clear();
  const osb = families.has('osb') ? DEFAULT_TOKENIZE.osbWindow : 0;

  const subject = decodedHeader(parsed.headers, 'subject');
  const from = decodedHeader(parsed.headers, 'from');

  if (subject && families.has('subject')) into.addWords(0, norm.words(stripFilterTags(subject), 60), osb);
  if (from && families.has('name')) into.addWords(1, norm.words(displayName(from), 10), 0);
  if (families.has('body')) {
    let budget = DEFAULT_TOKENIZE.maxWords;
    for (const text of parsed.texts) {
      if (budget <= 0) break;
      const words = norm.words(text, budget);
      budget -= words.length;
      into.addWords(2, words, osb);
    }
  }
  if (families.has('url')) {
    let urls = 0;
    for (const text of parsed.texts) {
      for (const m of text.matchAll(URL_IN_TEXT)) {
        if (++urls > 100) break;
        domainFeatures(into, m[1] as string, 'u:');
      }
    }
    for (const href of parsed.hrefs) {
      const host = /^https?:\/\/([^\s/"'<>?#]+)/i.exec(href)?.[1];
      if (host) domainFeatures(into, host, 'u:');
      else if (/^mailto:/i.test(href)) into.add('u:mailto');
    }
  }
  if (families.has('header')) headerFacts(into, parsed, subject, from);
  if (families.has('signal')) for (const name of messageSignals(parsed, from)) into.add(SIGNAL_PREFIX + name);

  const messageId = headerValue(parsed.headers, 'message-id');
  return {
    ...into.finish(),
    subject,
    from,
    messageId,
    truncated,
    warnings: parsed.warnings,
  };
}
