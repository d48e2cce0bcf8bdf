/** Message log: search and one message. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { httpErrors } from '../../errors.js';
import type { MessageFilter, Storage } from '../../store/types.js';
import { Errors, IdParams, PageOf, Row } from '../schemas.js';

const Query = T.Object({
  action: T.Optional(T.Union(['pass', 'tag', 'quarantine', 'reject', 'tempfail'].map((a) => T.Literal(a)))),
  status: T.Optional(T.String()),
  sender: T.Optional(T.String()),
  recipient: T.Optional(T.String()),
  subject: T.Optional(T.String()),
  minScore: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
  maxScore: T.Optional(T.Number({ minimum: 0, maximum: 1 })),
  since: T.Optional(T.String({ format: 'date-time' })),
  until: T.Optional(T.String({ format: 'date-time' })),
  cursor: T.Optional(T.String()),
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 500 })),
});

export const messageRoutes: FastifyPluginAsyncTypebox<{ storage: Storage }> = async (app, { storage }) => {
  app.get(
    '/api/v1/messages',
    {
      config: { action: 'messages:read' },
      schema: { querystring: Query, response: { 200: PageOf(Row), ...Errors } },
    },
    async (request) => {
      const q = request.query;
      const filter = {
        ...q,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
      } as MessageFilter;
      return storage.messages.list(filter);
    },
  );
  app.get(
    '/api/v1/messages/:id',
    { config: { action: 'messages:read' }, schema: { params: IdParams, response: { 200: Row, ...Errors } } },
    async (request) => {
      const found = await storage.messages.get(request.params.id);
      if (!found) throw httpErrors.notFound('message');
      return found;
    },
  );
};
