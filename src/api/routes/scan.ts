/** Scan a raw message on demand: the verdict and the features that weighed most. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { httpErrors } from '../../errors.js';
import type { Scanner } from '../../pipeline/types.js';
import { FeatureWeight } from '../resources.js';
import { Errors } from '../schemas.js';

export const scanRoutes: FastifyPluginAsyncTypebox<{ scanner: Scanner }> = async (app, { scanner }) => {
  app.post(
    '/api/v1/scan',
    {
      config: { action: 'scan', bodyTypes: ['message/rfc822', 'application/octet-stream'] },
      schema: {
        consumes: ['message/rfc822'],
        response: {
          200: T.Object({
            score: T.Number(),
            spam: T.Boolean(),
            modelVersion: T.String(),
            contentHash: T.String(),
            cached: T.Boolean(),
            scanMs: T.Number(),
            topFeatures: T.Array(FeatureWeight),
            evidence: T.Optional(
              T.Object(
                {
                  known: T.Integer({ description: 'features of the message the model knows' }),
                  features: T.Integer({ description: 'features of the message' }),
                  factor: T.Number({
                    description: 'share of the margin that counted, known / (known + K): near 0 = unsure',
                  }),
                },
                { description: 'how much the verdict rests on' },
              ),
            ),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
        throw httpErrors.badRequest('body must be a raw message sent as message/rfc822');
      }
      const { features: _features, ...verdict } = await scanner.scan(request.body);
      return verdict;
    },
  );
};
