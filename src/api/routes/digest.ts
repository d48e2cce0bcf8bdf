/**
 * Recipients' digest preferences for admins: who opted out, and switching one recipient's digests off or
 * on again (the same change a recipient makes through their digest's subscription link). Audited.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { recipientAddress, setDigestPreference } from '../../digest/preference.js';
import type { Storage } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { Errors } from '../schemas.js';

const Preference = T.Object({
  recipient: T.String(),
  enabled: T.Boolean(),
  lastSentAt: T.Union([T.Unsafe<Date>({ type: 'string', format: 'date-time' }), T.Null()]),
});
const RecipientParams = T.Object({ recipient: T.String({ minLength: 3, maxLength: 320 }) });

/** How many opted-out recipients one listing returns. */
const LIST_LIMIT = 1000;

export const digestRoutes: FastifyPluginAsyncTypebox<{ storage: Storage }> = async (app, { storage }) => {
  app.get(
    '/api/v1/digest/recipients',
    {
      config: { action: 'digest:read' },
      schema: { response: { 200: T.Object({ optedOut: T.Array(Preference) }), ...Errors } },
    },
    async () => ({ optedOut: await storage.digest.optedOut(LIST_LIMIT) }),
  );
  app.get(
    '/api/v1/digest/recipients/:recipient',
    {
      config: { action: 'digest:read' },
      schema: { params: RecipientParams, response: { 200: Preference, ...Errors } },
    },
    async (request) => storage.digest.preference(recipientAddress(request.params.recipient)),
  );
  app.put(
    '/api/v1/digest/recipients/:recipient',
    {
      config: { action: 'digest:write' },
      schema: {
        params: RecipientParams,
        body: T.Object({ enabled: T.Boolean() }, { additionalProperties: false }),
        response: { 200: Preference, ...Errors },
      },
    },
    async (request) =>
      setDigestPreference(
        storage,
        { recipient: request.params.recipient, enabled: request.body.enabled },
        actorOf(request),
      ),
  );
};
