/**
 * The service's end of the embedded database's thread (pglite-thread.ts): the part of PGlite's client the
 * Kysely dialect uses, with each query posted to the thread and its answer awaited. Rows come back as
 * structured clones, so a bytea arrives as a Uint8Array and is turned back into the Buffer PGlite's parser
 * made (no copy); a failed query rejects with an Error carrying Postgres's fields (`code`, `detail` …).
 * The thread keeps the process alive only while a query is outstanding, as an in-process client would.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { workerEntry } from '../util/worker-pool.js';
import type { PgliteReply, PgliteRequest, PgliteThreadData } from './pglite-thread.js';

export interface PgliteQueryClient {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  close(): Promise<void>;
  readonly closed: boolean;
  /**
   * Settles with the reason once the database stopped on its own (a PANIC, the thread's death), never when
   * closed: every query from then on fails at once, and only a new start (crash recovery) brings it back.
   */
  readonly failed: Promise<Error>;
}

/**
 * A PANIC (Postgres's own word: a WAL file it could not create on a full disk, say) ends a server's
 * backends, and a server restarts them through crash recovery. PGlite is the one backend and has nothing to
 * restart it: after a PANIC its next query never answers, and its thread spins. So the first PANIC stops
 * the client for good.
 */
const isPanic = (error: Record<string, unknown>) => error.severity === 'PANIC';

function toError(data: Record<string, unknown>): Error {
  const { message, ...fields } = data;
  return Object.assign(new Error(String(message ?? 'embedded database error')), fields);
}

function withBuffers(rows: unknown[]): unknown[] {
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const r = row as Record<string, unknown>;
    for (const key in r) {
      const v = r[key];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v))
        r[key] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return rows;
}

/** Starts the thread on `dir` and resolves once PGlite is open there (rejects with its error otherwise). */
export function startPgliteThread(dir: string, template: Uint8Array | null): Promise<PgliteQueryClient> {
  const entry = workerEntry(import.meta.url, 'pglite-thread');
  const workerData: PgliteThreadData = { dir, template };
  // A .ts entry (under vitest or tsx) is imported once tsx's loader is registered in the thread: Node 20
  // applies neither `--import` nor the parent's hooks to a thread started on a .ts file or from source.
  const worker = entry.filename.endsWith('.ts')
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
          `.then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(entry.filename).href)}); })`,
        { eval: true, workerData },
      )
    : new Worker(entry.filename, { workerData });
  const pending = new Map<number, { resolve: (reply: PgliteReply) => void; reject: (err: Error) => void }>();
  let nextId = 1;
  let closed = false;
  let stopped: Error | null = null;
  let reportFailure: (err: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => {
    reportFailure = resolve;
  });

  const settle = () => (pending.size > 0 ? worker.ref() : worker.unref());
  const request = (body: Omit<PgliteRequest, 'id'>): Promise<PgliteReply> => {
    if (stopped) return Promise.reject(stopped);
    const id = nextId++;
    return new Promise<PgliteReply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      settle();
      worker.postMessage({ id, ...body } as PgliteRequest);
    });
  };

  return new Promise((resolveStart, rejectStart) => {
    worker.on('message', (reply: PgliteReply) => {
      if (reply.id === 0) {
        if ('ready' in reply) {
          settle();
          resolveStart(client);
        } else if ('error' in reply) {
          // A thread whose PGlite did not start holds the process open (it is referenced until ready).
          stopped = toError(reply.error);
          rejectStart(stopped);
          void worker.terminate();
        }
        return;
      }
      const waiter = pending.get(reply.id);
      if (!waiter) return;
      pending.delete(reply.id);
      settle();
      if ('error' in reply) {
        waiter.reject(toError(reply.error));
        if (isPanic(reply.error) && !stopped) {
          fail(new Error(`PANIC: ${String(reply.error.message)}`));
          void worker.terminate();
        }
      } else waiter.resolve(reply);
    });
    const fail = (err: Error) => {
      stopped = Object.assign(new Error(`the embedded database stopped: ${err.message}`), {
        code: 'EMBEDDED_DB_STOPPED',
      });
      for (const waiter of pending.values()) waiter.reject(stopped);
      pending.clear();
      settle();
      rejectStart(stopped);
      if (!closed) reportFailure(stopped);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!stopped) fail(new Error(`its thread exited (code ${code})`));
    });

    const client: PgliteQueryClient = {
      get closed() {
        return closed;
      },
      failed,
      async query<R>(sql: string, params: unknown[] = []) {
        const reply = await request({ sql, params });
        if (!('rows' in reply)) throw new Error('embedded database: unexpected reply');
        return {
          rows: withBuffers(reply.rows) as R[],
          ...(reply.affectedRows === undefined ? {} : { affectedRows: reply.affectedRows }),
        };
      },
      async close() {
        if (closed) return;
        closed = true;
        try {
          if (!stopped) await request({ close: true });
        } finally {
          stopped ??= new Error("the embedded database's thread stopped: the client was closed");
          await worker.terminate();
        }
      },
    };
  });
}
