/** Message log: search, one message, and its raw bytes while kept. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { httpErrors } from '../../errors.js';
import type { MessageFilter, Storage } from '../../store/types.js';
import { Message } from '../resources.js';
import { Errors, IdParams, PageOf, PageQuery, RawById, TimeQuery, timeOf } from '../schemas.js';

const Query = T.Object({
  action: T.Optional(T.Union(['pass', 'tag', 'quarantine', 'reject', 'tempfail'].map((a) => T.Literal(a)))),
  status: T.Optional(T.String()),
  sender: T.Optional(T.String()),
  recipient: T.Optional(T.String()),
  subject: T.Optional(T.String()),
  contentHash: T.Optional(
    T.String({ pattern: '^[0-9a-f]{64}$', description: 'every delivery of this content' }),
  ),
  minScore: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
  maxScore: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
  since: T.Optional(TimeQuery),
  until: T.Optional(TimeQuery),
  ...PageQuery,
});

export const messageRoutes: FastifyPluginAsyncTypebox<{ storage: Storage }> = async (app, { storage }) => {
  app.get(
    '/api/v1/messages',
    {
      config: { action: 'messages:read' },
      schema: { querystring: Query, response: { 200: PageOf(Message), ...Errors } },
    },
    async (request) => {
      const q = request.query;
      const filter = {
        ...q,
        since: timeOf('since', q.since),
        until: timeOf('until', q.until),
      } as MessageFilter;
      return storage.messages.list(filter);
    },
  );
  app.get(
    '/api/v1/messages/:id',
    {
      config: { action: 'messages:read' },
      schema: { params: IdParams, response: { 200: Message, ...Errors } },
    },
    async (request) => {
      const found = await storage.messages.get(request.params.id);
      if (!found) throw httpErrors.notFound('message');
      return found;
    },
  );
  // The raw bytes while `retention.rawDays` keeps them (for learning from history, or a second look).
  app.get(
    '/api/v1/messages/:id/raw',
    {
      config: { action: 'messages:read' },
      schema: RawById,
    },
    async (request, reply) => {
      const raw = await storage.messages.getRaw(request.params.id);
      if (!raw) throw httpErrors.notFound('raw bytes of that message (never logged, or past retention)');
      return reply.type('message/rfc822').send(raw);
    },
  );
};
