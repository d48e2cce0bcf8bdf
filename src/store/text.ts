/**
 * Text as Postgres can store it. Mail can carry U+0000 (in a Subject, a HELO name, an encoded word), and
 * Postgres `text` and `jsonb` cannot hold it: one such row made a whole verdict-log batch, or a quarantine
 * write, fail again at every retry. It is kept as U+FFFD, the mark mail decoders already use for bytes they
 * cannot represent.
 */
import {
  type KyselyPlugin,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type PrimitiveValueListNode,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  type ValueNode,
} from 'kysely';

const NUL = /\u0000/g;

export function storableText(text: string): string {
  return text.includes('\u0000') ? text.replace(NUL, '\uFFFD') : text;
}

export function storableTextOrNull(text: string | null): string | null {
  return text === null ? null : storableText(text);
}

/** JSON for a `jsonb` column: its strings (keys too) as `storableText`. */
export function storableJson(value: unknown): string {
  // JSON.stringify writes U+0000 as the escape \u0000: without one, no string needs changing, and a replacer
  // (a call per value, on every logged verdict) is spared.
  // (JSON.stringify(undefined) is undefined, whatever its declared type says.)
  const plain = JSON.stringify(value) as string | undefined;
  if (plain === undefined || !plain.includes('\\u0000')) return plain as string;
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === 'string') return storableText(v);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.some((k) => k.includes('\u0000'))) {
        return Object.fromEntries(keys.map((k) => [storableText(k), (v as Record<string, unknown>)[k]]));
      }
    }
    return v;
  });
}

/** A `jsonb` column read back: node-postgres hands it over parsed, a driver that does not, as its text. */
export function parseJson<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

/** Every string a query sends (and each string of an array it sends) as `storableText`. */
class StorableParameters extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const value = storableValue(node.value);
    return value === node.value ? node : { ...node, value };
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    const values = node.values.map(storableValue);
    return values.every((v, i) => v === node.values[i]) ? node : { ...node, values };
  }
}

function storableValue(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value) && value.some((v) => typeof v === 'string' && v.includes('\u0000')))
    return value.map((v) => (typeof v === 'string' ? storableText(v) : v));
  return value;
}

/**
 * Postgres refuses U+0000 in a text parameter as it does in a row, with an error no caller can act on (a
 * search typed with it, a model version from a URL holding it, would be a 500). Each string parameter is
 * sent as `storableText`, as rows are written, so such a query finds what was stored with it, or nothing.
 * Bytes (`bytea`) are buffers and are not touched; `jsonb` keeps `storableJson`.
 */
const storableParameters = new StorableParameters();

export const storableTextPlugin: KyselyPlugin = {
  // One transformer for every query, as Kysely's own plugins keep one: a transform runs synchronously.
  transformQuery: (args: PluginTransformQueryArgs): RootOperationNode =>
    storableParameters.transformNode(args.node),
  transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => args.result,
};
