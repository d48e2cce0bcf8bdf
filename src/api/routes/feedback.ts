/** Feedback: teach the active model that a message (by log id, while its raw is kept, or given raw) is spam or ham. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { httpErrors } from '../../errors.js';
import { type FeedbackDeps, giveFeedback } from '../../pipeline/feedback.js';
import type { Storage } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { Errors, Uuid } from '../schemas.js';

const Body = T.Object({
  messageId: T.Optional(Uuid),
  raw: T.Optional(T.String({ minLength: 1, description: 'the raw RFC822 message as text' })),
  label: T.Union([T.Literal('spam'), T.Literal('ham')]),
});

export const feedbackRoutes: FastifyPluginAsyncTypebox<FeedbackDeps & { storage: Storage }> = async (
  app,
  deps,
) => {
  const { storage } = deps;
  app.post(
    '/api/v1/feedback',
    {
      config: { action: 'feedback:write' },
      schema: {
        body: Body,
        response: {
          200: T.Object({
            id: T.String(),
            contentHash: T.String(),
            label: T.String(),
            previous: T.Union([T.String(), T.Null()]),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const { messageId, label } = request.body;
      if ((messageId === undefined) === (request.body.raw === undefined)) {
        throw httpErrors.badRequest('give exactly one of messageId or raw');
      }
      let raw: Buffer | null;
      if (messageId !== undefined) {
        // The log keeps no bytes of a quarantined message: the quarantine does, while it holds it.
        raw =
          (await storage.messages.getRaw(messageId)) ?? (await storage.quarantine.getRawOfMessage(messageId));
        if (!raw)
          throw httpErrors.notFound(
            'raw bytes of that message (unknown id, past retention, or no longer in the quarantine)',
          );
      } else raw = Buffer.from(request.body.raw as string, 'utf8');
      const { entry, previous } = await giveFeedback(deps, {
        raw,
        label,
        messageId: messageId ?? null,
        actor: actorOf(request),
      });
      return { id: entry.id, contentHash: entry.contentHash, label, previous };
    },
  );
};
