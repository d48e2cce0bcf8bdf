/**
 * Builds the one effective configuration: defaults ← YAML file ← environment ← explicit overrides, validated
 * against the schema once, then frozen. A bad key stops start-up with one line naming it.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { TObject, TSchema } from '@sinclair/typebox';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { closest } from '../util/closest.js';
import { networkMatcher } from '../util/networks.js';
import { parseServer } from '../util/resolver-address.js';
import { describeProblem } from './describe.js';
import { type Config, ConfigSchema } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface LoadOptions {
  /** YAML file (`--config`); default `$MAILSENTRA_CONFIG`, else none. */
  file?: string | null;
  env?: NodeJS.ProcessEnv;
  overrides?: DeepPartial<Config>;
}

interface EnvBinding {
  path: string[];
  env: string;
  schema: TSchema;
}

/** Walks the schema for keys that carry an `env` annotation. */
export function envBindings(schema: TObject = ConfigSchema, prefix: string[] = []): EnvBinding[] {
  const out: EnvBinding[] = [];
  for (const [key, sub] of Object.entries(schema.properties)) {
    const path = [...prefix, key];
    if (typeof sub.env === 'string') out.push({ path, env: sub.env, schema: sub });
    if (sub.type === 'object' && sub.properties) out.push(...envBindings(sub as TObject, path));
  }
  return out;
}

function coerceEnv(binding: EnvBinding, raw: string): unknown {
  const s = binding.schema;
  const accepts = (type: string) =>
    s.type === type || (Array.isArray(s.anyOf) && s.anyOf.some((x: TSchema) => x.type === type));
  if (accepts('boolean')) {
    if (/^(on|true|yes)$/i.test(raw)) return true;
    if (/^(off|false|no)$/i.test(raw)) return false;
    // 1/0 mean on/off unless the key also takes a number (e.g. a hop count).
    if (!accepts('integer') && /^[01]$/.test(raw)) return raw === '1';
    if (!accepts('integer') && !accepts('string'))
      throw new ConfigError(
        `${binding.path.join('.')} (env ${binding.env})`,
        `expected on/off, got '${raw}'`,
      );
  }
  if ((accepts('integer') || accepts('number')) && accepts('string') && !/^\s*-?\d+(\.\d+)?\s*$/.test(raw))
    return raw;
  if (accepts('integer') || accepts('number')) {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) {
      throw new ConfigError(
        `${binding.path.join('.')} (env ${binding.env})`,
        `expected a number, got '${raw}'`,
      );
    }
    return n;
  }
  // Lists (network ranges) come as one comma- or space-separated value.
  if (s.type === 'array') return raw.split(/[\s,]+/).filter((x) => x !== '');
  if (raw === '' && accepts('null')) return null;
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

function deepFreeze<T>(obj: T): T {
  if (typeof obj === 'object' && obj !== null && !Object.isFrozen(obj)) {
    Object.freeze(obj);
    for (const v of Object.values(obj)) deepFreeze(v);
  }
  return obj;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) throw new ConfigError(file, 'the top level must be a mapping');
  return doc;
}

/** The schema node of a key path (`smtp.listen`), or null past the schema (an unknown key). */
function schemaAt(keys: string[]): TSchema | null {
  let node: TSchema = ConfigSchema;
  for (const k of keys) {
    const next = (node.properties as Record<string, TSchema> | undefined)?.[k];
    if (!next) return null;
    node = next;
  }
  return node;
}

/** A list key given a mapping: filling in defaults would merge the list into it and hide the mistake. */
function checkLists(schema: TObject, value: Record<string, unknown>, prefix: string[]): void {
  for (const [key, sub] of Object.entries(schema.properties)) {
    const v = value[key];
    if (v === undefined) continue;
    if (sub.type === 'array' && !Array.isArray(v))
      throw describeError({ type: -1, path: `/${[...prefix, key].join('/')}`, schema: sub, value: v });
    if (sub.type === 'object' && sub.properties && isPlainObject(v))
      checkLists(sub as TObject, v, [...prefix, key]);
  }
}

/** A key with its environment variable, as every config error names it. */
function keyNamed(key: string): string {
  const env = schemaAt(key.split('.'))?.env;
  return typeof env === 'string' ? `${key} (env ${env})` : key;
}

/** What is wrong with a listener's or next hop's host:port, or a resolver's address, or null. */
function addressProblem(key: string, address: string): string | null {
  let port: number;
  if (key === 'dns.servers') {
    const server = parseServer(address);
    if (isIP(server.host) === 0 || !Number.isInteger(server.port))
      return `'${address}' is not an IP address, or one with a port (192.0.2.53:53, [2001:db8::53]:53)`;
    port = server.port;
  } else port = parseHostPort(address).port; // the schema's pattern has checked the form
  return port > 65_535 ? `port ${port} is over 65535 in '${address}'` : null;
}

function describeError(err: { type: number; path: string; schema: TSchema; value: unknown }): ConfigError {
  const keys = err.path
    .replace(/^\//, '')
    .split('/')
    .filter((k) => k !== '');
  // A list item's error is about the list's key.
  while (keys.length > 0 && /^\d+$/.test(keys[keys.length - 1] as string)) keys.pop();
  const node = schemaAt(keys);
  const env = typeof node?.env === 'string' ? ` (env ${node.env})` : '';
  const key = (keys.join('.') || '(root)') + env;
  const meant =
    err.type === ValueErrorType.ObjectAdditionalProperties && keys.length > 0
      ? closest(
          keys[keys.length - 1] as string,
          Object.keys((schemaAt(keys.slice(0, -1))?.properties as object | undefined) ?? {}),
        )
      : null;
  return new ConfigError(
    key,
    describeProblem(err, node?.secret === true, meant && [...keys.slice(0, -1), meant].join('.')),
  );
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file === undefined ? (env.MAILSENTRA_CONFIG ?? null) : options.file;
  let layered: Record<string, unknown> = file ? readConfigFile(file) : {};

  const fromEnv: Record<string, unknown> = {};
  for (const binding of envBindings()) {
    const raw = env[binding.env];
    if (raw !== undefined) setPath(fromEnv, binding.path, coerceEnv(binding, raw));
  }
  layered = merge(layered, fromEnv);
  if (options.overrides) layered = merge(layered, options.overrides as Record<string, unknown>);

  checkLists(ConfigSchema, layered, []);
  // Unknown keys first: a typo must name itself, not surface as a confusing type error elsewhere.
  const withDefaults = Value.Default(ConfigSchema, structuredClone(layered));
  const first = Value.Errors(ConfigSchema, withDefaults).First();
  if (first) throw describeError(first);
  const config = withDefaults as Config;

  const t = config.policy.thresholds;
  if (t.quarantine !== null && t.tag !== null && t.quarantine < t.tag) {
    throw new ConfigError('policy.thresholds.quarantine', `must be >= policy.thresholds.tag (${t.tag})`);
  }
  const networkLists: [string, readonly string[]][] = [
    ['smtp.allowNetworks', config.smtp.allowNetworks],
    ['smtp.trustedForwarders', config.smtp.trustedForwarders],
    ['policy.allowClients', config.policy.allowClients],
    ['policy.blockClients', config.policy.blockClients],
  ];
  for (const [key, list] of networkLists) {
    for (const cidr of list) {
      try {
        networkMatcher([cidr]);
      } catch {
        throw new ConfigError(key, `'${cidr}' is not an IP address or CIDR network`);
      }
    }
  }
  // A sender entry that is neither an address nor an @domain never matches anything: a silent no-op.
  const senderLists: [string, readonly string[]][] = [
    ['policy.allowSenders', config.policy.allowSenders.map((e) => (typeof e === 'string' ? e : e.sender))],
    ['policy.blockSenders', config.policy.blockSenders],
  ];
  for (const [key, list] of senderLists)
    for (const sender of list)
      if (!/^(@[^@\s<>]+|[^@\s<>]+@[^@\s<>]+)$/.test(sender))
        throw new ConfigError(
          key,
          `'${sender}' is not an address (user@example.com) or a domain (@example.com)`,
        );
  // The patterns take up to five digits for a port; the range is checked here, with the key named, rather
  // than by the listener or the relay at the first message.
  const addresses: [string, string | null][] = [
    ['smtp.listen', config.smtp.listen === 'off' ? null : config.smtp.listen],
    ['api.listen', config.api.listen],
    ['relay.to', config.relay.to],
    ['milter.listen', config.milter.listen?.startsWith('/') ? null : config.milter.listen],
    ...config.dns.servers.map((s): [string, string] => ['dns.servers', s]),
  ];
  for (const [key, address] of addresses) {
    if (address === null) continue;
    const problem = addressProblem(key, address);
    if (problem) throw new ConfigError(keyNamed(key), problem);
  }
  // Service URLs hold credentials: a URL that does not parse is named by its key, never echoed.
  for (const key of ['database.url', 'redis.url'] as const) {
    const url = key === 'database.url' ? config.database.url : config.redis.url;
    if (url !== null && !URL.canParse(url))
      throw new ConfigError(keyNamed(key), 'not a URL that can be read');
  }
  if (config.smtp.processes > 1 && config.database.url === null) {
    throw new ConfigError(
      'smtp.processes (env SMTP_PROCESSES)',
      'more than 1 needs DATABASE_URL: the embedded database belongs to one process',
    );
  }
  if ((config.smtp.tlsCert === null) !== (config.smtp.tlsKey === null)) {
    throw new ConfigError('smtp.tlsKey', 'smtp.tlsCert and smtp.tlsKey must be set together');
  }
  return deepFreeze(config);
}

/** The effective configuration with secrets masked, for `--print-config`. */
export function maskSecrets(config: Config, schema: TObject = ConfigSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    const sub = schema.properties[key];
    if (sub?.secret && value !== null) out[key] = maskValue(String(value));
    else if (sub?.type === 'object' && sub.properties && isPlainObject(value)) {
      out[key] = maskSecrets(value as Config, sub as TObject);
    } else out[key] = value;
  }
  return out;
}

/** Service URLs whose shape (scheme, host, port, database) is worth showing; any other secret is hidden whole. */
const SERVICE_URL = /^(postgres|postgresql|redis|rediss):\/\/./i;

function maskValue(value: string): string {
  if (!SERVICE_URL.test(value)) return '****';
  try {
    const url = new URL(value);
    if (url.username) url.username = '****';
    if (url.password) url.password = '****';
    for (const name of [...url.searchParams.keys()]) url.searchParams.set(name, '****');
    return url.toString().replaceAll('%2A%2A%2A%2A', '****');
  } catch {
    return '****';
  }
}

/**
 * Every secret string in the configuration (whole values, and the password and query values of service
 * URLs), longest first, for the log destination to blank out wherever one appears. Not a URL's user name:
 * it is no secret, and it is often a word the logs need (`postgres`, the store's kind).
 */
export function secretValues(config: Config, schema: TObject = ConfigSchema): string[] {
  const out = new Set<string>();
  const walk = (node: Record<string, unknown>, sch: TObject) => {
    for (const [key, value] of Object.entries(node)) {
      const sub = sch.properties[key];
      if (sub?.secret && typeof value === 'string' && value !== '') {
        out.add(value);
        if (SERVICE_URL.test(value)) {
          try {
            const url = new URL(value);
            for (const part of [url.password, ...url.searchParams.values()]) {
              if (part.length >= 4) {
                out.add(part);
                out.add(decodeURIComponent(part));
              }
            }
          } catch {
            // not a URL after all: the whole value is already listed
          }
        }
      } else if (sub?.type === 'object' && sub.properties && isPlainObject(value))
        walk(value, sub as TObject);
    }
  };
  walk(config as Record<string, unknown>, schema);
  return [...out].sort((a, b) => b.length - a.length);
}

/** Splits `host:port` / `[v6]:port` as validated by the schema. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (!m) throw new ConfigError('address', `not host:port: '${value}'`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}
