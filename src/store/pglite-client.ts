/**
 * The embedded database's client: PGlite on a directory (or `memory://`), with the bytea codec and the
 * extensions the schema needs. Used inside the database's own thread (pglite-thread.ts) and by the build's
 * template script; the service talks to it through pglite-remote.ts.
 */
import type { PGlite } from '@electric-sql/pglite';

const BYTEA_OID = 17;

// A bytea parameter goes to Postgres as its bytes, in the binary format (PGlite's bind sends any byte view
// so): no hex text to build, to measure character by character in PGlite's protocol writer, and to decode
// again inside WebAssembly, which together cost more than the rest of a logged row.
function byteaParam(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError('bytea parameter must be a Uint8Array');
  return value;
}

// Results come back as hex text. PGlite's own conversion goes through a JS array of one parseInt per byte
// (about 0.9 s for a 4 MB model artefact); Buffer's hex codec does it in native code.
function byteaFromText(text: string): Buffer {
  return Buffer.from(text.slice(2), 'hex');
}

/**
 * PGlite on `dir` (its own directory, or `memory://`). A directory that holds no cluster yet starts from
 * `template` when given: a dump of a freshly created and migrated cluster (scripts/embedded-template.mjs
 * writes it at build time, `storeTemplatePath()`), so a first start unpacks a few megabytes instead of
 * running initdb, which takes seconds to tens of seconds.
 */
export async function createPgliteClient(dir: string, template: Uint8Array | null = null): Promise<PGlite> {
  // Imported only here: the Postgres path never loads the WebAssembly build.
  const [{ PGlite }, { pg_trgm }] = await Promise.all([
    import('@electric-sql/pglite'),
    // pg_trgm backs the subject search index (migration 0005), as on a real server with contrib.
    import('@electric-sql/pglite/contrib/pg_trgm'),
  ]);
  return PGlite.create(dir, {
    extensions: { pg_trgm },
    // Postgres's 128 MB of shared buffers are zeroed inside WebAssembly at every start, a quarter of a second
    // of each restart; 32 MB holds the verdict log's recent pages and its indexes' hot ends, and what falls
    // out is still in the operating system's file cache.
    startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'],
    // PGlite types a serializer as returning text, but its bind sends a returned byte view as binary (see
    // byteaParam); the cast states what the runtime does.
    serializers: { [BYTEA_OID]: byteaParam as unknown as (value: unknown) => string },
    parsers: { [BYTEA_OID]: byteaFromText },
    ...(template ? { loadDataDir: new Blob([template]) } : {}),
  });
}
