/**
 * The console's only way to build HTML: a tagged template that escapes every interpolated value unless it is
 * itself built by `html` (or marked `trusted` for a constant). Chosen over a template library because the
 * pages are small and this is the whole of it: one rule, easy to test exhaustively, nothing to configure.
 * Values are escaped for text and for quoted attribute values (`"` and `'` included), with direction controls
 * shown; URLs placed in `href`/`src` are always ones this service builds, never a message's.
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

/** Unicode's explicit direction controls: embeddings, overrides and isolates (LRE … RLO, LRI … PDI). */
const DIRECTION_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * Shows each direction control as its code point. A mail's sender, subject or attachment name can carry
 * RIGHT-TO-LEFT OVERRIDE so that `invoice\u202Efdp.exe` reads "invoiceexe.pdf"; shown, the reader sees what
 * the text is, not what it pretends to be. (Direction marks, which reorder no letters, are left alone.)
 */
export function showDirectionControls(text: string): string {
  return text.replace(
    DIRECTION_CONTROLS,
    (c) => `[U+${(c.codePointAt(0) as number).toString(16).toUpperCase()}]`,
  );
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false || value === true) return '';
  return escapeHtml(showDirectionControls(String(value)));
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
