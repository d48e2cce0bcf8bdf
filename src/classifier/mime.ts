/**
 * A lean, synchronous MIME walker for scoring. Written by hand (with libmime for encoded words and header
 * parameters, libqp for quoted-printable, iconv-lite for charsets) because the classifier runs on every
 * message: mailparser's streaming machinery costs more than the scoring itself, and scoring only needs the
 * decoded text, the headers and the shape of the message. Bounded: depth, part count and bytes are capped,
 * and it never throws on bad input — problems become warnings.
 */
import he from 'he';
import iconv from 'iconv-lite';
import libmime from 'libmime';
import libqp from 'libqp';

export interface Header {
  /** Lower-case name. */
  name: string;
  /** Unfolded raw value (encoded words not decoded). */
  value: string;
}

export interface ParsedMessage {
  headers: Header[];
  /** Decoded text of text/plain and text/html parts (HTML turned into text). */
  texts: string[];
  /** Raw hrefs / URLs found in HTML attributes. */
  hrefs: string[];
  /** Content types of every leaf part, lower-case. */
  contentTypes: string[];
  attachmentNames: string[];
  charsets: string[];
  hasHtml: boolean;
  hasPlain: boolean;
  /** What the HTML parts show about their own shape (the signals in signals.ts read it). */
  html: HtmlFacts;
  warnings: string[];
}

/** Facts about a message's HTML that its text alone does not show. */
export interface HtmlFacts {
  /** Anchors: the href and the visible text of the link (both capped), at most MAX_LINKS. */
  links: { href: string; text: string }[];
  /** `<img>` tags seen. */
  images: number;
  /** Text inside an element styled invisible (display:none, visibility:hidden, zero size or opacity). */
  hiddenText: boolean;
  /** A `<form>` element. */
  form: boolean;
  /** An `<input type=password>`. */
  passwordInput: boolean;
}

export function emptyHtmlFacts(): HtmlFacts {
  return { links: [], images: 0, hiddenText: false, form: false, passwordInput: false };
}

const MAX_LINKS = 100;

const MAX_DEPTH = 20;
const MAX_PARTS = 200;

function dispositionFilename(disposition: string): string | undefined {
  if (!/filename/i.test(disposition)) return undefined;
  try {
    return (libmime.parseHeaderValue(disposition) as { params: Record<string, string> }).params.filename;
  } catch {
    return undefined;
  }
}

export function splitHeaderBody(text: string): { head: string; body: string } {
  // Headers end at the first empty line (CRLF or bare LF, both seen in stored mail), which may be the
  // message's first: then there are none, and the body's lines are not read as fields.
  const first = /^\r?\n/.exec(text);
  if (first) return { head: '', body: text.slice(first[0].length) };
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { head: text, body: '' };
  return { head: text.slice(0, m.index), body: text.slice(m.index + m[0].length) };
}

export function parseHeaders(head: string): Header[] {
  const headers: Header[] = [];
  const lines = head.split(/\r?\n/);
  let start = 0;
  // An mbox "From " separator line is not a header.
  if (lines[0]?.startsWith('From ')) start = 1;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] as string;
    if ((line.startsWith(' ') || line.startsWith('\t')) && headers.length > 0) {
      const last = headers[headers.length - 1] as Header;
      if (last.value.length < 16_384) last.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return headers;
}

export function headerValue(headers: Header[], name: string): string | null {
  for (const h of headers) if (h.name === name) return h.value;
  return null;
}

export function decodeHeaderWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/**
 * A header's text as a reader sees it. Its 8-bit bytes (read as latin1, one char per byte) are taken as
 * UTF-8 when they are valid UTF-8, as mailers that send raw 8-bit headers nearly always mean (RFC 6532),
 * and stay latin1 otherwise; then encoded words are decoded. In that order: what an encoded word decodes
 * to is text already (Cyrillic, CJK), and cut back to bytes it would be noise.
 */
export function decodeHeaderText(value: string): string {
  let text = value;
  if (/[\x80-\xff]/.test(value) && !/[^\x00-\xff]/.test(value)) {
    const utf8 = Buffer.from(value, 'latin1').toString('utf8');
    if (!utf8.includes('\uFFFD')) text = utf8;
  }
  return decodeHeaderWords(text);
}

function decodeCharset(bytes: Buffer, charset: string, warnings: string[]): string {
  const cs = charset.toLowerCase().replace(/^["']|["']$/g, '');
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8')
    return bytes.toString('utf8');
  const normalised = libmime.normalizeCharset ? libmime.normalizeCharset(cs) : cs;
  if (iconv.encodingExists(normalised)) return iconv.decode(bytes, normalised);
  if (iconv.encodingExists(cs)) return iconv.decode(bytes, cs);
  warnings.push(`unknown charset ${charset.slice(0, 40)}`);
  return bytes.toString('latin1');
}

function decodeTransfer(body: string, encoding: string): Buffer {
  switch (encoding) {
    case 'base64':
      return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return libqp.decode(body);
    default:
      return Buffer.from(body, 'latin1');
  }
}

const HREF = /\b(?:href|src)\s*=\s*["']?([^"'\s>]+)/gi;
// Every pattern below is bounded or anchored at one tag, so hostile HTML (thousands of unclosed `<a`)
// costs linear time.
const ANCHOR_START = /<a\s/gi;
const TAG_HREF = /\bhref\s*=\s*["']?([^"'\s>]{1,500})/i;
const IMG = /<img\b/gi;
const HIDDEN_STYLE =
  /style\s*=\s*["']?[^"'>]{0,300}?(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d]))/gi;
// Elements that never hold text.
const VOID_ELEMENT = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);
// How far an invisible element's content is read, and how many such elements a message gets read for: hostile
// HTML with thousands of them costs a bounded amount.
const HIDDEN_REACH = 2000;
const HIDDEN_ELEMENTS_READ = 64;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/**
 * The content of the element whose start tag ends at `from` (its text and child elements, up to its end tag
 * or HIDDEN_REACH characters); with `direct`, only the text before its first child element.
 */
function elementContent(html: string, from: number, name: string, direct: boolean): string {
  const window = html.slice(from, from + HIDDEN_REACH);
  if (direct) return window.split('<', 1)[0] as string;
  const tags = new RegExp(`<(/?)${name}\\b`, 'gi');
  let depth = 1;
  for (const t of window.matchAll(tags)) {
    depth += t[1] ? -1 : 1;
    if (depth === 0) return window.slice(0, t.index);
  }
  return window;
}

/**
 * Whether an element styled invisible holds text a reader does not see. Only text counts: mail written in
 * Word or Outlook carries empty hidden spans (`mso-hide:all`), templates hide images and tracking layers, and
 * newsletters zero the font size of cells that hold only images. A zero font size or hidden visibility is
 * undone by a child that sets its own, so for those only the element's own leading text counts; nothing
 * undoes display:none or zero opacity, so there its whole content does.
 */
function hasHiddenText(html: string): boolean {
  let read = 0;
  for (const m of html.matchAll(HIDDEN_STYLE)) {
    if (++read > HIDDEN_ELEMENTS_READ) break;
    const before = html.slice(Math.max(0, m.index - 1000), m.index);
    const open = before.lastIndexOf('<');
    if (open < 0 || before.indexOf('>', open) >= 0) continue;
    const name = /^<([a-z][a-z0-9]{0,20})/i.exec(before.slice(open))?.[1]?.toLowerCase();
    if (!name || VOID_ELEMENT.has(name)) continue;
    const end = html.indexOf('>', m.index);
    if (end < 0) break;
    if (html[end - 1] === '/') continue;
    const tag = before.slice(open) + html.slice(m.index, end);
    const direct = !/display\s*:\s*none|opacity\s*:\s*0(?![.\d])/i.test(tag);
    const content = elementContent(html, end + 1, name, direct);
    if (LETTER_OR_DIGIT.test(textOfHtml(content))) return true;
  }
  return false;
}

const FORM = /<form\b/i;
const PASSWORD_INPUT = /<input\b[^>]{0,300}?type\s*=\s*["']?password/i;

function readHtmlFacts(html: string, facts: HtmlFacts): void {
  // Anchors by hand: the tag up to its '>' (within 1000 characters), its href, the text up to the next '<'.
  // The '>' found last is reused while it lies ahead: each character is searched at most once.
  let close = -1;
  for (const m of html.matchAll(ANCHOR_START)) {
    if (facts.links.length >= MAX_LINKS) break;
    if (close < m.index) close = html.indexOf('>', m.index);
    if (close < 0) break;
    if (close - m.index > 1000) continue;
    const href = TAG_HREF.exec(html.slice(m.index, close))?.[1];
    if (!href) continue;
    const text = html.slice(close + 1, close + 201).split('<', 1)[0] as string;
    facts.links.push({ href, text: he.decode(text).trim() });
  }
  for (const _ of html.matchAll(IMG)) facts.images++;
  facts.hiddenText ||= hasHiddenText(html);
  facts.form ||= FORM.test(html);
  facts.passwordInput ||= PASSWORD_INPUT.test(html);
}

/** HTML to text for scoring: scripts/styles/comments dropped, tags become spaces, entities decoded. */
export function htmlToText(html: string, hrefs: string[], facts?: HtmlFacts): string {
  for (const m of html.matchAll(HREF)) {
    if (hrefs.length < 200) hrefs.push(m[1] as string);
  }
  if (facts) readHtmlFacts(html, facts);
  return textOfHtml(html);
}

/** What HTML reads as: scripts, styles and comments dropped, tags become spaces, entities decoded. */
function textOfHtml(html: string): string {
  return he.decode(dropBlocks(html).replace(/<[^<>]*>/g, ' '));
}

const BLOCK_START = /<!--|<(script|style)\b/gi;
const BLOCK_END: Record<string, RegExp> = {
  comment: /-->/g,
  script: /<\/script\s*>/gi,
  style: /<\/style\s*>/gi,
};

/**
 * Comments, scripts and styles removed by searching forward for each block's end. A lazy regex such as
 * `<!--[\s\S]*?-->` rescans to the end of the document from every unclosed opening, which is quadratic on
 * hostile HTML; this is linear. An unclosed block runs to the end of the document, as in a browser.
 */
function dropBlocks(html: string): string {
  let out = '';
  let from = 0;
  BLOCK_START.lastIndex = 0;
  for (;;) {
    const m = BLOCK_START.exec(html);
    if (!m) break;
    out += `${html.slice(from, m.index)} `;
    const end = BLOCK_END[m[1] ? m[1].toLowerCase() : 'comment'] as RegExp;
    end.lastIndex = m.index + m[0].length;
    const close = end.exec(html);
    if (!close) return out;
    from = close.index + close[0].length;
    BLOCK_START.lastIndex = from;
  }
  return out + html.slice(from);
}

interface PartContext {
  out: ParsedMessage;
  parts: number;
}

function walk(headers: Header[], body: string, depth: number, ctx: PartContext): void {
  ctx.parts++;
  const out = ctx.out;
  const ctRaw = headerValue(headers, 'content-type') ?? 'text/plain';
  let ct: { value: string; params: Record<string, string> };
  try {
    ct = libmime.parseHeaderValue(ctRaw) as { value: string; params: Record<string, string> };
  } catch {
    out.warnings.push('unparsable content-type');
    ct = { value: 'text/plain', params: {} };
  }
  const type = (ct.value || 'text/plain').toLowerCase();
  const encoding = (headerValue(headers, 'content-transfer-encoding') ?? '7bit').toLowerCase().trim();
  const disposition = headerValue(headers, 'content-disposition') ?? '';

  if (type.startsWith('multipart/')) {
    const boundary = ct.params.boundary;
    if (!boundary) {
      out.warnings.push('multipart without boundary');
      return;
    }
    if (depth >= MAX_DEPTH) {
      out.warnings.push('nesting too deep');
      return;
    }
    const delimiter = `--${boundary}`;
    const chunks = body.split(delimiter);
    // chunks[0] is the preamble; a chunk starting with "--" is the epilogue after the closing delimiter.
    for (let i = 1; i < chunks.length; i++) {
      if (ctx.parts >= MAX_PARTS) {
        out.warnings.push('too many parts');
        return;
      }
      const chunk = chunks[i] as string;
      if (chunk.startsWith('--')) break;
      const { head, body: partBody } = splitHeaderBody(chunk.replace(/^[ \t]*\r?\n/, ''));
      walk(parseHeaders(head), partBody, depth + 1, ctx);
    }
    if (chunks.length < 2) out.warnings.push('multipart boundary not found');
    return;
  }

  if (type === 'message/rfc822' && depth < MAX_DEPTH) {
    const { head, body: inner } = splitHeaderBody(body);
    const innerHeaders = parseHeaders(head);
    const subject = headerValue(innerHeaders, 'subject');
    if (subject) out.texts.push(decodeHeaderWords(subject));
    walk(innerHeaders, inner, depth + 1, ctx);
    return;
  }

  out.contentTypes.push(type);
  // Parsed as Content-Type is (libmime): RFC 2231 continuations and charsets (`filename*0="invoice.pdf";
  // filename*1=".exe"`) and spaces around `=` hide no attachment's name from the signals.
  const filename = ct.params.name ?? dispositionFilename(disposition);
  const isAttachment =
    /^attachment/i.test(disposition) || (filename !== undefined && !type.startsWith('text/'));
  if (filename) out.attachmentNames.push(decodeHeaderWords(filename).toLowerCase());
  if (!type.startsWith('text/') || isAttachment) return;

  const charset = (ct.params.charset ?? 'us-ascii').toLowerCase();
  out.charsets.push(charset);
  const text = decodeCharset(decodeTransfer(body, encoding), charset, out.warnings);
  if (type === 'text/html') {
    out.hasHtml = true;
    out.texts.push(htmlToText(text, out.hrefs, out.html));
  } else {
    out.hasPlain = true;
    out.texts.push(text);
  }
}

/** Parses a raw message (already cut to the scanned prefix). Never throws. */
export function parseMessage(raw: Buffer): ParsedMessage {
  const out: ParsedMessage = {
    headers: [],
    texts: [],
    hrefs: [],
    contentTypes: [],
    attachmentNames: [],
    charsets: [],
    hasHtml: false,
    hasPlain: false,
    html: emptyHtmlFacts(),
    warnings: [],
  };
  // latin1 keeps every byte as one char, so 8-bit bodies survive until their charset is known.
  const text = raw.toString('latin1');
  const { head, body } = splitHeaderBody(text);
  out.headers = parseHeaders(head);
  if (out.headers.length === 0) out.warnings.push('no headers');
  try {
    walk(out.headers, body, 0, { out, parts: 0 });
  } catch (err) {
    // A defect in a hostile message must not cost the verdict: score what was gathered.
    out.warnings.push(`mime: ${(err as Error).message.slice(0, 80)}`);
  }
  return out;
}
