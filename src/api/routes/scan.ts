/**
 * Scan a raw message on demand: the verdict, the features that weighed most, and sender authentication.
 * The envelope the message would have come with is optional (query parameters): without a client address
 * SPF is not evaluated (spf none, `spfChecked: false`), while DKIM, ARC and DMARC (on DKIM alone) are.
 */
import { isIP } from 'node:net';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import type { SenderAuth } from '../../auth/index.js';
import { signalNames } from '../../auth/signals.js';
import type { AuthRecord as AuthRecordData } from '../../auth/types.js';
import { httpErrors } from '../../errors.js';
import { authenticateMessage } from '../../pipeline/authenticate.js';
import type { Scanner } from '../../pipeline/types.js';
import { AuthRecord, FeatureWeight } from '../resources.js';
import { Errors } from '../schemas.js';

/** RFC 5321 limits: a domain (HELO) of 255 octets, a path (MAIL FROM) of 256. */
const Query = T.Object({
  clientIp: T.Optional(T.String({ maxLength: 64, description: 'the SMTP client address (SPF)' })),
  helo: T.Optional(T.String({ maxLength: 255, pattern: '^[^\\s<>]*$', description: 'its HELO/EHLO name' })),
  mailFrom: T.Optional(
    T.String({
      maxLength: 256,
      pattern: '^[^\\s<>]*$',
      description: "the envelope sender; '' the null sender",
    }),
  ),
});

export const scanRoutes: FastifyPluginAsyncTypebox<{ scanner: Scanner; auth: SenderAuth | null }> = async (
  app,
  { scanner, auth },
) => {
  app.post(
    '/api/v1/scan',
    {
      config: { action: 'scan', bodyTypes: ['message/rfc822', 'application/octet-stream'] },
      schema: {
        consumes: ['message/rfc822'],
        querystring: Query,
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
            auth: T.Union([AuthRecord, T.Null()], {
              description: 'sender authentication (null: auth.enabled is off); its signals were scored',
            }),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
        throw httpErrors.badRequest('body must be a raw message sent as message/rfc822');
      }
      const { clientIp, helo, mailFrom } = request.query;
      if (clientIp !== undefined && isIP(clientIp) === 0) {
        throw httpErrors.badRequest('clientIp must be an IPv4 or IPv6 address');
      }
      let raw = request.body;
      let record: AuthRecordData | null = null;
      if (auth) {
        const authenticated = await authenticateMessage(
          auth,
          { clientIp: clientIp ?? null, clientHelo: helo || null, mailFrom: mailFrom ?? '' },
          raw,
        );
        raw = authenticated.raw;
        record = authenticated.record;
      }
      const { features: _features, ...verdict } = await scanner.scan(raw, signalNames(record));
      return { ...verdict, auth: record };
    },
  );
};
