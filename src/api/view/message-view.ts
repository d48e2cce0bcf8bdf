/**
 * The parsed view of a stored message (headers, text, attachment names and sizes), made on a worker thread with a
 * byte cap and a deadline: a 25 MiB message opened by several admins at once must not stall mail in flight.
 */
import { HttpError } from '../../errors.js';
import { workerPool } from '../../util/worker-pool.js';
import type { ViewTask } from './view-worker.js';

export interface MessageView {
  headers: Record<string, string>;
  /** Every header field in order, repeats included. */
  headerLines: { key: string; value: string }[];
  /** The HTML part, only when asked for (the console's sandboxed frame). */
  html: string | null;
  text: string | null;
  attachments: { filename: string | null; contentType: string; size: number }[];
  /** Only the first `maxBytes` of the message were parsed. */
  truncated: boolean;
}

export interface MessageViewer {
  view(raw: Buffer, options?: { html?: boolean }): Promise<MessageView>;
  close(): Promise<void>;
}

export interface ViewLimits {
  /** Bytes of the message parsed for a view; the rest is left out (the raw route serves it whole). */
  maxBytes: number;
  maxTextChars: number;
  timeoutMs: number;
}

export const DEFAULT_VIEW_LIMITS: ViewLimits = {
  maxBytes: 2 * 1024 * 1024,
  maxTextChars: 256 * 1024,
  timeoutMs: 15_000,
};

export function createMessageViewer(limits: ViewLimits = DEFAULT_VIEW_LIMITS): MessageViewer {
  // One thread: views are an admin's clicks, and a queue of at most 32 answers 503 past that instead of
  // building up work. Started with the first view, not with the service: a thread loading its parser is
  // CPU that every start would spend before /ready, for a page most starts never serve.
  let pool: ReturnType<typeof workerPool> | null = null;
  let closed = false;
  return {
    async view(raw, options = {}) {
      const truncated = raw.length > limits.maxBytes;
      const bytes = truncated ? raw.subarray(0, limits.maxBytes) : raw;
      const signal = AbortSignal.timeout(limits.timeoutMs);
      try {
        const task: ViewTask = { raw: bytes, maxTextChars: limits.maxTextChars, html: options.html === true };
        if (closed) throw new Error('viewer closed');
        pool ??= workerPool(import.meta.url, 'view-worker', { threads: 1, maxQueue: 32 });
        const parsed = (await pool.run(task, { signal })) as Omit<MessageView, 'truncated'>;
        return { ...parsed, truncated };
      } catch (err) {
        if (signal.aborted)
          throw new HttpError(
            503,
            'VIEW_TIMEOUT',
            'the message took too long to parse; fetch it raw instead',
          );
        if ((err as Error).message?.includes('Task queue is at limit'))
          throw new HttpError(503, 'VIEW_BUSY', 'too many message views at once, try again');
        throw new HttpError(422, 'VIEW_FAILED', 'the message could not be parsed; fetch it raw instead');
      }
    },
    async close() {
      closed = true;
      await pool?.destroy();
    },
  };
}
