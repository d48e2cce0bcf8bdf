/**
 * A message's HTML part made safe to show (pure): rebuilt from an allowlist of tags and attributes, so
 * nothing runs and nothing loads by itself. Scripts, styles, frames, forms and event attributes are dropped
 * with their content; links are defanged (their text stays, the target is shown beside it, not followed);
 * images show as a placeholder unless the viewer asked to load them, and then only http(s) images.
 * The route that serves it adds `Content-Security-Policy: sandbox` on top, so a gap here still runs nothing.
 */
import { Parser } from 'htmlparser2';
import { escapeHtml } from './html.js';

const ALLOWED = new Set([
  'p',
  'br',
  'div',
  'span',
  'b',
  'strong',
  'i',
  'em',
  'u',
  's',
  'small',
  'big',
  'sub',
  'sup',
  'blockquote',
  'pre',
  'code',
  'ul',
  'ol',
  'li',
  'dl',
  'dt',
  'dd',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'td',
  'th',
  'caption',
  'center',
  'font',
  'abbr',
  'address',
  'cite',
]);
/** Dropped together with everything inside them. */
const DROP_WITH_CONTENT = new Set([
  'script',
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'noscript',
  'template',
  'svg',
  'math',
  'head',
  'title',
  'textarea',
  'select',
  'button',
  'audio',
  'video',
  'canvas',
]);
const VOID = new Set(['br', 'hr', 'img']);
const ALLOWED_ATTRS = new Set(['colspan', 'rowspan', 'align', 'valign', 'width', 'height', 'alt', 'title']);

export interface SafeBody {
  html: string;
  /** Remote images the message refers to (shown as placeholders unless loaded). */
  remoteImages: number;
  links: number;
}

export function safeHtml(source: string, options: { loadImages: boolean }): SafeBody {
  let out = '';
  let dropDepth = 0;
  let remoteImages = 0;
  let links = 0;
  const hrefs: (string | null)[] = [];
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (dropDepth > 0 || DROP_WITH_CONTENT.has(name)) {
          if (!VOID.has(name)) dropDepth++;
          return;
        }
        if (name === 'a') {
          const href = attrs.href?.trim() ?? null;
          hrefs.push(href);
          if (href) links++;
          out += '<span class="link">';
          return;
        }
        if (name === 'img') {
          const src = attrs.src?.trim() ?? '';
          const remote = /^https?:\/\//i.test(src);
          if (remote) remoteImages++;
          if (remote && options.loadImages)
            out += `<img src="${escapeHtml(src)}" alt="${escapeHtml(attrs.alt ?? '')}">`;
          else out += `<span class="img">[image${attrs.alt ? `: ${escapeHtml(attrs.alt)}` : ''}]</span>`;
          return;
        }
        if (!ALLOWED.has(name)) return;
        let tag = `<${name}`;
        for (const [k, v] of Object.entries(attrs))
          if (ALLOWED_ATTRS.has(k.toLowerCase())) tag += ` ${k.toLowerCase()}="${escapeHtml(v)}"`;
        out += `${tag}>`;
      },
      ontext(text) {
        if (dropDepth === 0) out += escapeHtml(text);
      },
      onclosetag(name) {
        if (dropDepth > 0) {
          if (!VOID.has(name)) dropDepth--;
          return;
        }
        if (name === 'a') {
          const href = hrefs.pop();
          if (href) out += ` <span class="href">[${escapeHtml(href)}]</span>`;
          out += '</span>';
          return;
        }
        if (ALLOWED.has(name) && !VOID.has(name)) out += `</${name}>`;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true, recognizeSelfClosing: true },
  );
  parser.write(source);
  parser.end();
  return { html: out, remoteImages, links };
}

/** The frame document: the safe body and a style that keeps it readable. */
export function bodyDocument(body: SafeBody): string {
  return `<!doctype html><html><head><meta charset="utf-8"><style>
body{font:14px/1.4 system-ui,sans-serif;margin:8px;color:#111;word-wrap:break-word}
.href{color:#666;font-size:12px}.link{color:#0645ad;text-decoration:underline}.img{color:#666;border:1px dashed #aaa;padding:0 4px}
</style></head><body>${body.html}</body></html>`;
}

/** CSP of the frame document: no script, no plugin, no form, no navigation; images only when asked. */
export function bodyCsp(loadImages: boolean): string {
  return `sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src ${loadImages ? 'https: http: data:' : 'data:'}; form-action 'none'; base-uri 'none'; frame-ancestors 'self'`;
}
