/** API keys: mint (shown once), list, revoke. Every change is audited. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { httpErrors } from '../../errors.js';
import { createAuditedKey } from '../../store/keys.js';
import type { Storage } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { ApiKey, AuditEntry } from '../resources.js';
import { Errors, IdParams } from '../schemas.js';

export const keyRoutes: FastifyPluginAsyncTypebox<{ storage: Storage }> = async (app, { storage }) => {
  app.get(
    '/api/v1/keys',
    { config: { action: 'keys:read' }, schema: { response: { 200: T.Array(ApiKey), ...Errors } } },
    async () => storage.keys.list(),
  );
  app.post(
    '/api/v1/keys',
    {
      config: { action: 'keys:write' },
      schema: {
        body: T.Object({
          role: T.Union([T.Literal('admin'), T.Literal('analyst')]),
          label: T.Optional(T.String({ maxLength: 200 })),
        }),
        response: { 201: T.Object({ key: T.String(), record: ApiKey }), ...Errors },
      },
    },
    async (request, reply) => {
      const { role, label } = request.body;
      const { record, key } = await createAuditedKey(storage, role, label ?? null, actorOf(request));
      return reply.code(201).send({ key, record });
    },
  );
  app.delete(
    '/api/v1/keys/:id',
    {
      config: { action: 'keys:write' },
      schema: { params: IdParams, response: { 200: T.Object({ revoked: T.String() }), ...Errors } },
    },
    async (request) => {
      if (!(await storage.keys.revoke(request.params.id))) throw httpErrors.notFound('key');
      await storage.audit.write({
        actor: actorOf(request),
        action: 'key.revoke',
        target: request.params.id,
        details: {},
      });
      return { revoked: request.params.id };
    },
  );
  app.get(
    '/api/v1/audit',
    {
      config: { action: 'audit:read' },
      schema: {
        querystring: T.Object({ limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })) }),
        response: { 200: T.Array(AuditEntry), ...Errors },
      },
    },
    async (request) => storage.audit.list(request.query.limit),
  );
};
