/**
 * Quarantine: list, view (parsed: headers, text body, attachment names and sizes), raw, release, delete.
 * Release hands the stored bytes to the relay with the original sender and this row's recipient: it never
 * re-scans. A failed send leaves the row held and answers 502 RELAY_FAILED with the next hop's reply.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { HttpError, httpErrors } from '../../errors.js';
import { deleteItems, type QuarantineActionDeps, releaseItem } from '../../quarantine/actions.js';
import type { QuarantineItem } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { QuarantineItem as QuarantineItemSchema } from '../resources.js';
import {
  ErrorBody,
  Errors,
  IdParams,
  PageOf,
  PageQuery,
  RawById,
  TimeQuery,
  timeOf,
  Uuid,
} from '../schemas.js';
import type { MessageViewer } from '../view/message-view.js';

export interface QuarantineDeps extends QuarantineActionDeps {
  viewer: MessageViewer;
}

const ListQuery = T.Object({
  state: T.Optional(
    T.Union([T.Literal('held'), T.Literal('releasing'), T.Literal('released'), T.Literal('deleted')]),
  ),
  sender: T.Optional(T.String()),
  recipient: T.Optional(T.String()),
  subject: T.Optional(T.String()),
  since: T.Optional(TimeQuery),
  until: T.Optional(TimeQuery),
  ...PageQuery,
});

const View = T.Object({
  item: QuarantineItemSchema,
  headers: T.Record(T.String(), T.String()),
  text: T.Union([T.String(), T.Null()]),
  attachments: T.Array(
    T.Object({ filename: T.Union([T.String(), T.Null()]), contentType: T.String(), size: T.Integer() }),
  ),
  truncated: T.Boolean(),
});

const ReleaseBody = T.Object({ learnAsHam: T.Optional(T.Boolean()) });
const BulkBody = T.Object({ ids: T.Array(Uuid, { minItems: 1, maxItems: 500 }) });

export const quarantineRoutes: FastifyPluginAsyncTypebox<QuarantineDeps> = async (app, deps) => {
  const { storage } = deps;

  async function find(id: string): Promise<QuarantineItem> {
    const item = await storage.quarantine.get(id);
    if (!item) throw httpErrors.notFound('quarantine item');
    return item;
  }

  /** The stored bytes of a row still held (or being released); a released or deleted row's are gone. */
  async function bytesOf(item: QuarantineItem): Promise<Buffer> {
    const raw =
      item.state === 'held' || item.state === 'releasing' ? await storage.quarantine.getRaw(item.id) : null;
    if (!raw) throw httpErrors.gone(`quarantine item is ${item.state}: its message is no longer kept`);
    return raw;
  }

  const release = (id: string, actor: string, learnAsHam: boolean) =>
    releaseItem(deps, id, actor, learnAsHam);
  const remove = (ids: string[], actor: string) => deleteItems(storage, ids, actor);

  /** Who read which quarantined message: views and raw downloads are audited like actions. */
  async function audited(item: QuarantineItem, actor: string, action: 'quarantine.view' | 'quarantine.raw') {
    await storage.audit.write({ actor, action, target: item.id, details: { recipient: item.recipient } });
  }

  app.get(
    '/api/v1/quarantine',
    {
      config: { action: 'quarantine:read' },
      schema: { querystring: ListQuery, response: { 200: PageOf(QuarantineItemSchema), ...Errors } },
    },
    async (request) => {
      const q = request.query;
      return storage.quarantine.list({
        ...q,
        since: timeOf('since', q.since),
        until: timeOf('until', q.until),
      });
    },
  );
  app.get(
    '/api/v1/quarantine/:id',
    {
      config: { action: 'quarantine:read' },
      schema: {
        params: IdParams,
        response: { 200: View, 410: ErrorBody, 422: ErrorBody, 503: ErrorBody, ...Errors },
      },
    },
    async (request) => {
      const item = await find(request.params.id);
      const { headerLines: _lines, html: _html, ...view } = await deps.viewer.view(await bytesOf(item));
      await audited(item, actorOf(request), 'quarantine.view');
      return { item, ...view };
    },
  );
  app.get(
    '/api/v1/quarantine/:id/raw',
    {
      config: { action: 'quarantine:read' },
      schema: RawById,
    },
    async (request, reply) => {
      const item = await find(request.params.id);
      const raw = await bytesOf(item);
      await audited(item, actorOf(request), 'quarantine.raw');
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
        response: { 200: QuarantineItemSchema, 409: ErrorBody, 502: ErrorBody, ...Errors },
      },
    },
    async (request) => release(request.params.id, actorOf(request), request.body?.learnAsHam === true),
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
          await release(id, actorOf(request), request.body.learnAsHam === true);
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
      schema: { params: IdParams, response: { 200: QuarantineItemSchema, 409: ErrorBody, ...Errors } },
    },
    async (request) => {
      const item = await find(request.params.id);
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
