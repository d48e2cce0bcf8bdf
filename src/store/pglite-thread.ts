/**
 * The embedded database's thread: PGlite runs every query synchronously in WebAssembly, so on the main
 * thread each verdict-log batch held SMTP, scoring and the API for its whole duration. Here it runs beside
 * them; pglite-remote.ts is the other end. Messages in: `{ id, sql, params }` or `{ id, close: true }`; out:
 * `{ id, rows, affectedRows }` or `{ id, error }` (the error's own fields: message, SQLSTATE code, detail …).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPgliteClient } from './pglite-client.js';

export interface PgliteThreadData {
  dir: string;
  template: Uint8Array | null;
}

export type PgliteRequest = { id: number; sql: string; params: unknown[] } | { id: number; close: true };

export type PgliteReply =
  | { id: number; rows: unknown[]; affectedRows?: number }
  | { id: number; error: Record<string, unknown> }
  | { id: 0; ready: true };

/** An error as plain data: a structured clone keeps only an Error's message, not Postgres's fields. */
export function errorData(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const data: Record<string, unknown> = { name: err.name, message: err.message };
  for (const [key, value] of Object.entries(err)) {
    if (value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null))
      continue;
    data[key] = value;
  }
  return data;
}

const port = parentPort;
if (port) {
  const { dir, template } = workerData as PgliteThreadData;
  const post = (reply: PgliteReply) => port.postMessage(reply);
  try {
    const client = await createPgliteClient(dir, template);
    port.on('message', (request: PgliteRequest) => {
      if ('close' in request) {
        client.close().then(
          () => post({ id: request.id, rows: [] }),
          (err: unknown) => post({ id: request.id, error: errorData(err) }),
        );
        return;
      }
      client.query(request.sql, request.params).then(
        (result) =>
          post({
            id: request.id,
            rows: result.rows,
            ...(result.affectedRows === undefined ? {} : { affectedRows: result.affectedRows }),
          }),
        (err: unknown) => post({ id: request.id, error: errorData(err) }),
      );
    });
    post({ id: 0, ready: true });
  } catch (err) {
    post({ id: 0, error: errorData(err) });
  }
}
