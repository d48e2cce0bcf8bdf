/**
 * One TypeBox schema per API resource, field for field what the store returns: the response serializer
 * writes exactly these fields and the OpenAPI document (/docs) describes them.
 */
import { Type as T, type TSchema } from '@sinclair/typebox';

const Nullable = <S extends TSchema>(s: S) => T.Union([s, T.Null()]);
// A Date in the handler, an ISO 8601 string on the wire (the serializer calls toISOString).
const Time = T.Unsafe<Date>({ type: 'string', format: 'date-time' });

export const FeatureWeight = T.Object({ feature: T.String(), weight: T.Number() });

const AuthResult = T.Union([
  T.Literal('pass'),
  T.Literal('fail'),
  T.Literal('softfail'),
  T.Literal('neutral'),
  T.Literal('none'),
  T.Literal('temperror'),
  T.Literal('permerror'),
  T.Literal('policy'),
]);

/** Sender authentication as the verdict log keeps it. */
export const AuthRecord = T.Object({
  spf: AuthResult,
  dkim: AuthResult,
  dmarc: AuthResult,
  arc: AuthResult,
  dmarcPolicy: T.Union([T.Literal('none'), T.Literal('quarantine'), T.Literal('reject'), T.Null()]),
  fromDomain: Nullable(T.String()),
  spfChecked: T.Optional(
    T.Boolean({ description: 'false: no client address was given, SPF was not evaluated (spf is none)' }),
  ),
  signals: T.Array(T.Object({ name: T.String(), description: T.String() }), {
    description: "the classifier's auth signals (features x:<name>) and what each said of this message",
  }),
});

/** A verdict-log entry without its raw bytes (`hasRaw` says whether they are kept). */
export const Message = T.Object({
  id: T.String({ format: 'uuid' }),
  receivedAt: Time,
  sessionId: T.String(),
  clientIp: Nullable(T.String()),
  clientHelo: Nullable(T.String()),
  mailFrom: T.String({ description: "envelope sender; '' is the null sender" }),
  rcptTo: T.Array(T.String()),
  messageIdHeader: Nullable(T.String()),
  headerFrom: Nullable(T.String()),
  subject: Nullable(T.String()),
  size: T.Integer(),
  contentHash: T.String(),
  score: Nullable(T.Number()),
  action: T.Union([
    T.Literal('pass'),
    T.Literal('tag'),
    T.Literal('quarantine'),
    T.Literal('reject'),
    T.Literal('tempfail'),
  ]),
  reason: T.String(),
  modelVersion: Nullable(T.String()),
  topFeatures: T.Array(FeatureWeight),
  scanMs: Nullable(T.Number()),
  totalMs: T.Number(),
  status: T.Union([
    T.Literal('delivered'),
    T.Literal('deferred'),
    T.Literal('bounced'),
    T.Literal('quarantined'),
    T.Literal('rejected'),
    T.Literal('partial'),
  ]),
  response: Nullable(T.String()),
  hasRaw: T.Boolean(),
  auth: T.Optional(Nullable(AuthRecord)),
});

/** One recipient's row of a quarantined message. */
export const QuarantineItem = T.Object({
  id: T.String({ format: 'uuid' }),
  messageId: T.String({ format: 'uuid' }),
  recipient: T.String(),
  mailFrom: T.String(),
  subject: Nullable(T.String()),
  headerFrom: Nullable(T.String()),
  score: Nullable(T.Number()),
  reason: T.String(),
  size: T.Integer(),
  state: T.Union([T.Literal('held'), T.Literal('releasing'), T.Literal('released'), T.Literal('deleted')]),
  createdAt: Time,
  expiresAt: Time,
  actedBy: Nullable(T.String()),
  actedAt: Nullable(Time),
});

const SiteFigures = T.Object({
  falsePositives: T.Integer(),
  falseNegatives: T.Integer(),
  rocAuc: T.Number(),
});

/** A version's figures as stored with it. Each may be absent: the store keeps what the trainer of that
 * version measured, and a missing figure must not turn a listing into a 500. */
export const Evaluation = T.Partial(
  T.Object({
    messages: T.Integer(),
    ham: T.Integer(),
    spam: T.Integer(),
    threshold: T.Number(),
    accuracy: T.Number(),
    precision: T.Number(),
    recall: T.Number(),
    falsePositiveRate: T.Number(),
    falsePositives: T.Integer(),
    falseNegatives: T.Integer(),
    rocAuc: T.Number(),
    recallAtFpr001: T.Number(),
    site: T.Object(
      {
        ham: T.Integer(),
        spam: T.Integer(),
        candidate: SiteFigures,
        baseline: T.Composite([SiteFigures, T.Object({ version: T.String() })]),
      },
      { description: 'on held-out site feedback, when the version was trained with enough of it' },
    ),
  }),
);

export const Model = T.Object({
  version: T.String(),
  createdAt: Time,
  trainingSet: T.String(),
  evaluation: Nullable(Evaluation),
  active: T.Boolean(),
  sizeBytes: T.Integer(),
});

export const ApiKey = T.Object({
  id: T.String({ format: 'uuid' }),
  role: T.Union([T.Literal('admin'), T.Literal('analyst')]),
  label: Nullable(T.String()),
  createdAt: Time,
  lastUsedAt: Nullable(Time),
  revokedAt: Nullable(Time),
});

export const AuditEntry = T.Object({
  id: T.String({ format: 'uuid' }),
  at: Time,
  actor: T.String(),
  action: T.String(),
  target: Nullable(T.String()),
  details: T.Record(T.String(), T.Unknown()),
});
