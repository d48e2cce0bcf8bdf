/**
 * The console's only way to build HTML: a tagged template that escapes every interpolated value unless it is
 * itself built by `html` (or marked `trusted` for a constant). Chosen over a template library because the
 * pages are small and this is the whole of it: one rule, easy to test exhaustively, nothing to configure.
 * Values are escaped for text and for quoted attribute values (`"` and `'` included); URLs placed in
 * `href`/`src` are always ones this service builds, never a message's.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false || value === true) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Marks a constant string of this program as HTML. Never for anything that came from outside. */
export function trusted(constant: string): Html {
  return new Html(constant);
}
