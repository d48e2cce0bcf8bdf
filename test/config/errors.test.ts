/**
 * Every config key, given a value of the wrong kind (and, where the schema bounds it, one out of bounds),
 * stops loading with one line that names the key and says in words what it expects: never a validator
 * phrase such as "Expected union value".
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';

const RAW_PHRASES =
  /expected (union|string|integer|number|boolean|array|object|value|required|all)\b|unexpected property|greater or equal|less or equal|to match pattern|anyOf|schema|documented form/i;

function leaves(schema: TObject, prefix: string[] = []): { path: string[]; schema: TSchema }[] {
  const out: { path: string[]; schema: TSchema }[] = [];
  for (const [key, sub] of Object.entries(schema.properties)) {
    if (sub.type === 'object' && sub.properties) out.push(...leaves(sub as TObject, [...prefix, key]));
    else out.push({ path: [...prefix, key], schema: sub });
  }
  return out;
}

/** Values the schema refuses: the wrong kind always, and out of its bounds where it has any. */
function badValues(s: TSchema): unknown[] {
  const alts: TSchema[] = Array.isArray(s.anyOf) ? s.anyOf : [s];
  const out: unknown[] = [{ wrong: 'kind' }];
  for (const a of alts) {
    if (typeof a.minimum === 'number') out.push(a.minimum - (a.type === 'integer' ? 1 : 0.5));
    if (typeof a.maximum === 'number') out.push(a.maximum + 1);
    if (a.type === 'integer') out.push(1.5);
    if (typeof a.minLength === 'number') out.push('x'.repeat(Math.max(0, a.minLength - 1)));
    if (typeof a.pattern === 'string') out.push('not matching');
    if (a.const !== undefined) out.push('no-such-choice');
  }
  return out;
}

function nest(path: string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<Record<string, unknown>>((inner, key) => ({ [key]: inner }), value as never);
}

const cases = leaves(ConfigSchema).flatMap((leaf) =>
  badValues(leaf.schema).map((value) => [leaf.path.join('.'), value, leaf.path] as const),
);

describe('config errors in words, for every key', () => {
  it('walks a schema with keys of every kind', () => {
    expect(cases.length).toBeGreaterThan(60);
  });

  it.each(cases)('%s = %j', (key, value, path) => {
    let error: unknown;
    try {
      loadConfig({ file: null, env: {}, overrides: nest(path, value) });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.key.startsWith(key)).toBe(true);
    expect(e.message).not.toContain('\n');
    expect(e.problem).toMatch(/^expected /);
    expect(e.problem).not.toMatch(RAW_PHRASES);
  });

  it('names an unknown key as such, and the key a typo was meant for', () => {
    expect(() =>
      loadConfig({ file: null, env: {}, overrides: { smtp: { maxRecipents: 5 } as never } }),
    ).toThrow(/^config: smtp\.maxRecipents: unknown key \(did you mean smtp\.maxRecipients\?\)$/);
    expect(() => loadConfig({ file: null, env: {}, overrides: { smpt: {} } as never })).toThrow(
      /^config: smpt: unknown key \(did you mean smtp\?\)$/,
    );
    expect(() => loadConfig({ file: null, env: {}, overrides: { frobnicate: 1 } as never })).toThrow(
      /^config: frobnicate: unknown key \(see the configuration reference, docs\/configuration\.md\)$/,
    );
  });

  it('names an address whose port is over 65535, or a resolver that is not an IP address', () => {
    const refused = (env: Record<string, string>) => {
      try {
        loadConfig({ file: null, env });
      } catch (err) {
        return (err as ConfigError).message;
      }
      return null;
    };
    expect(refused({ SMTP_LISTEN: '127.0.0.1:99999' })).toBe(
      "config: smtp.listen (env SMTP_LISTEN): port 99999 is over 65535 in '127.0.0.1:99999'",
    );
    expect(refused({ API_LISTEN: '[::1]:65536' })).toMatch(
      /^config: api\.listen \(env API_LISTEN\): port 65536/,
    );
    expect(refused({ MILTER_LISTEN: '127.0.0.1:70000' })).toMatch(
      /^config: milter\.listen \(env MILTER_LISTEN\): port/,
    );
    expect(refused({ RELAY_TO: '127.0.0.1:99999' })).toMatch(
      /^config: relay\.to \(env RELAY_TO\): port 99999/,
    );
    expect(refused({ DNS_SERVERS: '1.1.1.1:99999' })).toMatch(
      /^config: dns\.servers \(env DNS_SERVERS\): port 99999/,
    );
    expect(refused({ DNS_SERVERS: 'resolver.example' })).toMatch(
      /^config: dns\.servers \(env DNS_SERVERS\): 'resolver\.example' is not an IP address/,
    );
    const fine: Record<string, string>[] = [
      { SMTP_LISTEN: '127.0.0.1:65535', API_LISTEN: '[::1]:0', MILTER_LISTEN: '/run/mailsentra/milter.sock' },
      { DNS_SERVERS: '192.0.2.53,192.0.2.54:5353,[2001:db8::53]:53,2001:db8::54' },
    ];
    for (const ok of fine) expect(refused(ok), JSON.stringify(ok)).toBeNull();
  });

  it('names a sender list entry that is neither an address nor a domain', () => {
    for (const [key, bad] of [
      ['allowSenders', 'not an address'],
      ['blockSenders', 'a@b@c'],
      ['allowSenders', { sender: 'example.com' }],
    ] as const) {
      expect(() => loadConfig({ file: null, env: {}, overrides: { policy: { [key]: [bad] } } })).toThrow(
        new RegExp(`^config: policy\\.${key}: '.*' is not an address \\(user@example\\.com\\) or a domain`),
      );
    }
    const fine = {
      allowSenders: ['boss@example.com', '@partner.example', { sender: '@x.example' }],
      blockSenders: ['@xyz'],
    };
    expect(() => loadConfig({ file: null, env: {}, overrides: { policy: fine } })).not.toThrow();
  });

  it('says how long the bootstrap admin key must be, and does not echo it', () => {
    let error: unknown;
    try {
      loadConfig({ file: null, env: { ADMIN_API_KEY: 'short-key' } });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).message).toMatch(
      /api\.adminApiKey \(env ADMIN_API_KEY\): expected text of at least \d+ characters/,
    );
    expect((error as ConfigError).message).not.toContain('short-key');
  });
});
