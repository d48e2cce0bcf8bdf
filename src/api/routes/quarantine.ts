/**
 * Quarantine: list, view (parsed: headers, text body, attachment names and sizes), raw, release, delete.
 * Release hands the stored bytes to the relay with the original sender and this row's recipient: it never
 * re-scans. A failed send leaves the row held and answers 502 RELAY_FAILED with the next hop's reply.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { simpleParser } from 'mailparser';
import { HttpError, httpErrors } from '../../errors.js';
import { type FeedbackDeps, giveFeedback } from '../../pipeline/feedback.js';
import type { Relay } from '../../smtp/types.js';
import type { QuarantineItem, QuarantineState, Storage } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { ErrorBody, Errors, IdParams, PageOf, Row } from '../schemas.js';

export interface QuarantineDeps extends FeedbackDeps {
  storage: Storage;
  relay: Relay;
}

const ListQuery = T.Object({
  state: T.Optional(T.Union([T.Literal('held'), T.Literal('released'), T.Literal('deleted')])),
  sender: T.Optional(T.String()),
  recipient: T.Optional(T.String()),
  subject: T.Optional(T.String()),
  cursor: T.Optional(T.String()),
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 500 })),
});

const View = T.Object({
  item: Row,
  headers: T.Record(T.String(), T.String()),
  text: T.Union([T.String(), T.Null()]),
  attachments: T.Array(
    T.Object({ filename: T.Union([T.String(), T.Null()]), contentType: T.String(), size: T.Integer() }),
  ),
});

const ReleaseBody = T.Object({ learnAsHam: T.Optional(T.Boolean()) });
const BulkBody = T.Object({ ids: T.Array(T.String({ minLength: 1 }), { minItems: 1, maxItems: 500 }) });

/** The parsed view of a raw message; HTML is never returned unescaped: only the text part (or mailparser's text). */
export async function viewOf(raw: Buffer) {
  const parsed = await simpleParser(raw, { skipHtmlToText: false });
  const headers: Record<string, string> = {};
  for (const line of parsed.headerLines)
    headers[line.key] = line.line.slice(line.line.indexOf(':') + 1).trim();
  return {
    headers,
    text: parsed.text ?? null,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
    })),
  };
}

export const quarantineRoutes: FastifyPluginAsyncTypebox<QuarantineDeps> = async (app, deps) => {
  const { storage } = deps;

  async function held(id: string): Promise<QuarantineItem> {
    const item = await storage.quarantine.get(id);
    if (!item) throw httpErrors.notFound('quarantine item');
    return item;
  }

  async function release(item: QuarantineItem, actor: string, learnAsHam: boolean): Promise<QuarantineItem> {
    if (item.state !== 'held') throw httpErrors.conflict(`item is ${item.state}, not held`);
    const raw = await storage.quarantine.getRaw(item.id);
    if (!raw) throw httpErrors.notFound('quarantined message bytes');
    const outcome = await deps.relay.send({ mailFrom: item.mailFrom, rcptTo: [item.recipient] }, raw);
    if (outcome.result !== 'ok') throw httpErrors.relayFailed(`next hop refused: ${outcome.response}`);
    const [changed] = await storage.quarantine.setState([item.id], 'released', actor);
    await storage.audit.write({
      actor,
      action: 'quarantine.release',
      target: item.id,
      details: { recipient: item.recipient, messageId: item.messageId, response: outcome.response },
    });
    if (learnAsHam) await giveFeedback(deps, { raw, label: 'ham', messageId: item.messageId, actor });
    return changed ?? { ...item, state: 'released' as QuarantineState };
  }

  async function remove(ids: string[], actor: string) {
    const changed = await storage.quarantine.setState(ids, 'deleted', actor);
    for (const row of changed)
      await storage.audit.write({
        actor,
        action: 'quarantine.delete',
        target: row.id,
        details: { messageId: row.messageId },
      });
    return changed;
  }

  app.get(
    '/api/v1/quarantine',
    {
      config: { action: 'quarantine:read' },
      schema: { querystring: ListQuery, response: { 200: PageOf(Row), ...Errors } },
    },
    async (request) => storage.quarantine.list(request.query),
  );
  app.get(
    '/api/v1/quarantine/:id',
    {
      config: { action: 'quarantine:read' },
      schema: { params: IdParams, response: { 200: View, ...Errors } },
    },
    async (request) => {
      const item = await held(request.params.id);
      const raw = await storage.quarantine.getRaw(item.id);
      const view = raw ? await viewOf(raw) : { headers: {}, text: null, attachments: [] };
      return { item, ...view };
    },
  );
  app.get(
    '/api/v1/quarantine/:id/raw',
    {
      config: { action: 'quarantine:read' },
      schema: {
        params: IdParams,
        response: { 200: T.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...Errors },
      },
    },
    async (request, reply) => {
      const raw = await storage.quarantine.getRaw((await held(request.params.id)).id);
      if (!raw) throw httpErrors.notFound('quarantined message bytes');
      return reply.type('message/rfc822').send(raw);
    },
  );
  app.post(
    '/api/v1/quarantine/:id/release',
    {
      config: { action: 'quarantine:release' },
      // A release without a body (plain `curl -X POST`) means no options.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        params: IdParams,
        body: ReleaseBody,
        response: { 200: Row, 409: ErrorBody, 502: ErrorBody, ...Errors },
      },
    },
    async (request) =>
      release(await held(request.params.id), actorOf(request), request.body?.learnAsHam === true),
  );
  app.post(
    '/api/v1/quarantine/release',
    {
      config: { action: 'quarantine:release' },
      schema: {
        body: T.Intersect([BulkBody, ReleaseBody]),
        response: {
          200: T.Object({
            released: T.Array(T.String()),
            failed: T.Array(T.Object({ id: T.String(), error: T.String(), message: T.String() })),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const released: string[] = [];
      const failed: { id: string; error: string; message: string }[] = [];
      for (const id of request.body.ids) {
        try {
          await release(await held(id), actorOf(request), request.body.learnAsHam === true);
          released.push(id);
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          failed.push({ id, error: err.code, message: err.message });
        }
      }
      return { released, failed };
    },
  );
  app.delete(
    '/api/v1/quarantine/:id',
    {
      config: { action: 'quarantine:delete' },
      schema: { params: IdParams, response: { 200: Row, 409: ErrorBody, ...Errors } },
    },
    async (request) => {
      const item = await held(request.params.id);
      const [changed] = await remove([item.id], actorOf(request));
      if (!changed) throw httpErrors.conflict(`item is ${item.state}, not held`);
      return changed;
    },
  );
  app.post(
    '/api/v1/quarantine/delete',
    {
      config: { action: 'quarantine:delete' },
      schema: { body: BulkBody, response: { 200: T.Object({ deleted: T.Array(T.String()) }), ...Errors } },
    },
    async (request) => ({ deleted: (await remove(request.body.ids, actorOf(request))).map((r) => r.id) }),
  );
};
