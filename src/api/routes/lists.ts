/**
 * Allow/block entries kept in the database: sender address, `@domain` or client network, scoped globally or
 * to one recipient domain. Config entries (policy.allowSenders and the like) apply as well and are not
 * listed here. Every change is audited and reaches this process's policy at once, others' within
 * database.syncIntervalSeconds.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { addListEntry, type ListEditDeps, removeListEntry } from '../../lists/edit.js';
import { actorOf } from '../auth.js';
import { Errors, Uuid } from '../schemas.js';

const Entry = T.Object({
  id: T.String(),
  list: T.Union([T.Literal('allow'), T.Literal('block')]),
  kind: T.Union([T.Literal('sender'), T.Literal('domain'), T.Literal('network')]),
  value: T.String(),
  scope: T.String(),
  alignedOnly: T.Boolean(),
  createdAt: T.Unsafe<Date>({ type: 'string', format: 'date-time' }),
  createdBy: T.String(),
});

const AddBody = T.Object(
  {
    list: T.Union([T.Literal('allow'), T.Literal('block')]),
    value: T.String({
      minLength: 1,
      maxLength: 320,
      description: 'user@example.com, @example.com or a CIDR',
    }),
    scope: T.Optional(T.String({ maxLength: 253, description: "'global' (default) or a recipient domain" })),
    alignedOnly: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);

export const listRoutes: FastifyPluginAsyncTypebox<ListEditDeps> = async (app, deps) => {
  app.get(
    '/api/v1/lists',
    {
      config: { action: 'lists:read' },
      schema: { response: { 200: T.Object({ items: T.Array(Entry) }), ...Errors } },
    },
    async () => ({ items: await deps.storage.lists.all() }),
  );
  app.post(
    '/api/v1/lists',
    {
      config: { action: 'lists:write' },
      schema: { body: AddBody, response: { 201: Entry, ...Errors } },
    },
    async (request, reply) => reply.code(201).send(await addListEntry(deps, request.body, actorOf(request))),
  );
  app.delete(
    '/api/v1/lists/:id',
    {
      config: { action: 'lists:write' },
      schema: { params: T.Object({ id: Uuid }), response: { 200: Entry, ...Errors } },
    },
    async (request) => removeListEntry(deps, request.params.id, actorOf(request)),
  );
};
