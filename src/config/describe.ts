/**
 * What a config key expects, in words, read from its schema node: "a whole number of at least 1", "text of
 * at least 16 characters, or empty (unset)". The validator's own phrases ("Expected union value") name
 * JSON Schema, not the setting, so no message shows them.
 */
import type { TSchema } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';

/** Patterns of the schema, in words (the config-errors test fails for a key whose pattern has none here). */
const PATTERNS: Record<string, string> = {
  '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$': 'host:port (an IPv6 address in brackets, e.g. [::1]:25)',
  '^(off|(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5})$':
    'host:port (an IPv6 address in brackets, e.g. [::1]:10025), or off',
  '^((\\[[0-9a-fA-F:.]+\\]|[^:\\s/]+):[0-9]{1,5}|/\\S+)$':
    'host:port (an IPv6 address in brackets), or the absolute path of a unix socket',
  '^0?[0-7]{3}$': 'octal permissions such as 0660',
  '^[^\\s;()"]+$': 'one word without spaces, semicolons, parentheses or quotes (a host name)',
  '^https?://': 'an http:// or https:// URL',
  '^postgres(ql)?://': 'a postgres:// or postgresql:// URL',
  '^rediss?://': 'a redis:// or rediss:// URL',
};

function range(s: TSchema, unit: string): string {
  const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? `more than ${s.exclusiveMinimum}` : undefined);
  const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? `less than ${s.exclusiveMaximum}` : undefined);
  const n = (v: unknown) =>
    typeof v === 'number' ? v.toLocaleString('en-US').replaceAll(',', '_') : String(v);
  if (typeof s.minimum === 'number' && typeof s.maximum === 'number')
    return `${unit} from ${n(min)} to ${n(max)}`;
  if (min !== undefined) return typeof min === 'number' ? `${unit} of at least ${n(min)}` : `${unit} ${min}`;
  if (max !== undefined) return typeof max === 'number' ? `${unit} of at most ${n(max)}` : `${unit} ${max}`;
  return unit;
}

/** The values a schema node accepts, as a phrase. */
export function expectation(s: TSchema): string {
  if (Array.isArray(s.anyOf)) {
    const alts = s.anyOf as TSchema[];
    if (alts.every((a) => a.const !== undefined))
      return `one of ${alts.map((a) => String(a.const)).join(', ')}`;
    return alts.map(expectation).join(', or ');
  }
  if (s.const !== undefined) return `'${String(s.const)}'`;
  switch (s.type) {
    case 'null':
      return 'empty (unset)';
    case 'boolean':
      return 'on or off (true/false)';
    case 'integer':
      return range(s, 'a whole number');
    case 'number':
      return range(s, 'a number');
    case 'array':
      return `a list (comma-separated in the environment) of ${s.items ? expectation(s.items as TSchema) : 'values'}`;
    case 'object':
      return 'a mapping of keys to values';
    case 'string': {
      if (typeof s.pattern === 'string') return PATTERNS[s.pattern] ?? 'text in the documented form';
      const parts: string[] = [];
      if (typeof s.minLength === 'number') parts.push(`at least ${s.minLength} characters`);
      if (typeof s.maxLength === 'number') parts.push(`at most ${s.maxLength} characters`);
      return parts.length > 0 ? `text of ${parts.join(' and ')}` : 'text';
    }
    default:
      return 'a value of the documented form';
  }
}

function shown(value: unknown, secret: boolean): string {
  if (value === undefined) return '';
  if (secret) return typeof value === 'string' ? `, got ${value.length} characters` : '';
  const text = JSON.stringify(value) ?? String(value);
  return `, got ${text.length > 60 ? `${text.slice(0, 57)}…` : text}`;
}

/** The problem of one validation error, for `config: <key>: <problem>`; `meant` the key a typo was likely for. */
export function describeProblem(
  error: { type: number; schema: TSchema; value: unknown },
  secret: boolean,
  meant: string | null = null,
): string {
  if (error.type === ValueErrorType.ObjectAdditionalProperties)
    return meant
      ? `unknown key (did you mean ${meant}?)`
      : 'unknown key (see the configuration reference, docs/configuration.md)';
  if (error.type === ValueErrorType.ObjectRequiredProperty)
    return `missing: expected ${expectation(error.schema)}`;
  return `expected ${expectation(error.schema)}${shown(error.value, secret)}`;
}
