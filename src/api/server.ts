/**
 * The admin and feedback API (Fastify 5, TypeBox schemas for every request and response, OpenAPI at /docs).
 * Built, not listening: app.ts listens. One error handler turns everything into `{ error, message }`.
 */
import fastifyHelmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifySchemaValidationError,
  LogController,
} from 'fastify';
import helmet from 'helmet';
import type { SenderAuth } from '../auth/index.js';
import type { ActiveModel } from '../classifier/types.js';
import type { Config } from '../config/schema.js';
import { HttpError } from '../errors.js';
import type { ListCache } from '../lists/cache.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import type { Policy } from '../pipeline/policy.js';
import type { Scanner } from '../pipeline/types.js';
import type { Relay } from '../smtp/types.js';
import type { Storage } from '../store/types.js';
import { uiPlugin } from '../ui/plugin.js';
import { sessionCredential } from '../ui/session.js';
import { withTimeout } from '../util/timeout.js';
import { authPlugin, markPublic } from './auth.js';
import { lazySchemaCompilers } from './lazy-schemas.js';
import { digestRoutes } from './routes/digest.js';
import { feedbackRoutes } from './routes/feedback.js';
import { keyRoutes } from './routes/keys.js';
import { listRoutes } from './routes/lists.js';
import { messageRoutes } from './routes/messages.js';
import { modelActions, modelRoutes } from './routes/models.js';
import { quarantineRoutes } from './routes/quarantine.js';
import { scanRoutes } from './routes/scan.js';
import { createMessageViewer } from './view/message-view.js';

export interface ApiDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  storage: Storage;
  scanner: Scanner;
  relay: Relay;
  activeModel: ActiveModel;
  listCache: ListCache;
  /** The policy in force (the console shows the lists of its settings). */
  policy: Pick<Policy, 'settings'>;
  /** The digest links' HMAC key (console digest routes). */
  signingKey: Buffer;
  modelSync: { announce(version: string): Promise<void> } | null;
  /** Told each recorded feedback row, so other processes apply it now (absent: at their periodic check). */
  feedbackSync?: { announce(id: string): Promise<void> } | null;
  /** Sender authentication for POST /api/v1/scan (null or absent: auth.enabled is off). */
  auth?: SenderAuth | null;
}

const DOCS_LOGO = {
  type: 'image/svg+xml',
  content: Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40"><text x="0" y="28" ' +
      'font-family="sans-serif" font-size="24" fill="#fff">MailSentra</text></svg>',
  ),
};

/**
 * The first schema violation, naming the field. A field that takes one of a few words fails as a union of
 * constants, whose first error reads "must be equal to constant"; those name the words instead, and a
 * format is said as an example rather than by its JSON Schema name.
 */
function validationMessage(context: string, errors: FastifySchemaValidationError[]): string {
  const first = errors[0];
  const field = `${context}${first?.instancePath ?? ''}`;
  const words = errors.flatMap((e) =>
    e.instancePath !== first?.instancePath
      ? []
      : e.keyword === 'const'
        ? [e.params.allowedValue]
        : e.keyword === 'enum' && Array.isArray(e.params.allowedValues)
          ? e.params.allowedValues
          : [],
  );
  if (words.length > 0) return `${field} must be one of ${words.map((w) => String(w)).join(', ')}`;
  const format = first?.keyword === 'format' ? FORMATS[String(first.params.format)] : undefined;
  if (format) return `${field} must be ${format}`;
  return `${field} ${first?.message ?? 'is invalid'}`;
}

/** The string formats the schemas use, as a client should write them. */
const FORMATS: Record<string, string> = {
  'date-time': 'a time in ISO 8601 with its zone, such as 2026-12-01T00:00:00Z',
  uuid: 'an id as the API gives them (a UUID)',
};

/** Maps any thrown error to a status and the public `{ error, message }` body. */
export function errorBody(err: FastifyError | Error): { status: number; error: string; message: string } {
  if (err instanceof HttpError) return { status: err.statusCode, error: err.code, message: err.message };
  const fe = err as FastifyError;
  if (fe.validation)
    return {
      status: 400,
      error: 'VALIDATION_FAILED',
      message: validationMessage(fe.validationContext ?? 'request', fe.validation),
    };
  if (fe.statusCode === 413) return { status: 413, error: 'BODY_TOO_LARGE', message: fe.message };
  if (fe.statusCode === 429) return { status: 429, error: 'RATE_LIMITED', message: fe.message };
  if (fe.statusCode === 415) return { status: 415, error: 'UNSUPPORTED_MEDIA_TYPE', message: fe.message };
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return { status: 400, error: 'INVALID_JSON', message: 'body: not a JSON document' };
  // Fastify's own codes name its internals; a client is told only that the request was at fault.
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)
    return {
      status: fe.statusCode,
      error: !fe.code || fe.code.startsWith('FST_') ? 'BAD_REQUEST' : fe.code,
      message: fe.message,
    };
  return { status: 500, error: 'INTERNAL', message: 'internal error' };
}

/** Fastify's `trustProxy` from the config value: off, on, a hop count, or the proxies' addresses/networks. */
export function trustProxyOption(
  value: Config['api']['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return value;
}

/** What the API's frame needs: nothing that has to be opened or loaded first. */
export interface ApiBase {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /**
   * The store, possibly still opening: the frame asks it for keys and sessions per request only, and no
   * request comes before `buildApi` has added the routes. Its refusal is for whoever opened it to handle.
   */
  storage: Promise<Storage>;
  /** The Prometheus text for /metrics; default this process's registry (the cluster primary aggregates). */
  metricsText?: (() => Promise<string>) | undefined;
}

/** The security headers of every reply (helmet's defaults; the console sets its own Content-Security-Policy). */
const SECURITY_HEADERS = { contentSecurityPolicy: false } as const;

function createFastify(config: Config, logger: Logger) {
  // For the replies no hook runs for (below); every other reply gets them from @fastify/helmet's hook.
  const securityHeaders = helmet(SECURITY_HEADERS);
  return Fastify({
    loggerInstance: logger,
    trustProxy: trustProxyOption(config.api.trustProxy),
    bodyLimit: config.api.bodyLimit,
    // Digest links carry a signed token of ~200 characters in one path segment (/ui/d/<token>).
    routerOptions: { maxParamLength: 1024 },
    // Per-request lines off (errors are logged once by the error handler); the logController form, since the
    // top-level option is deprecated (FSTDEP023).
    logController: new LogController({ disableRequestLogging: true }),
    schemaController: { compilersFactory: lazySchemaCompilers() },
    // Fails before any route matches (a path that is not valid percent-encoding): answered in the API's
    // error shape rather than Fastify's, naming no route, so it tells an unauthenticated caller nothing.
    frameworkErrors: (err, request, reply) => {
      const body = errorBody(err);
      securityHeaders(request.raw, reply.raw, () => {});
      // The handler is generic over route types no route has fixed yet; this reply is the plain one.
      (reply as FastifyReply).code(body.status).send({ error: body.error, message: body.message });
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
}

/** The API before its routes: Fastify with its plugins, authentication, the OpenAPI document and viewer. */
export type ApiFrame = ReturnType<typeof createFastify>;

/**
 * The frame needs no part of the service: createApp builds it while the store opens (its plugins and the
 * docs are most of the API's construction), then `buildApi` adds the routes.
 */
async function buildApiFrame(base: ApiBase): Promise<ApiFrame> {
  const { config } = base;
  const app = createFastify(config, base.logger);
  app.addContentTypeParser(
    ['message/rfc822', 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = errorBody(err);
    if (body.status >= 500) request.log.error({ err, event: 'API_ERROR' }, 'request failed');
    return reply.code(body.status).send({ error: body.error, message: body.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'NOT_FOUND', message: `${request.method} ${request.url} not found` }),
  );

  await app.register(fastifyHelmet, SECURITY_HEADERS);
  await app.register(rateLimit, {
    max: config.api.rateLimitPerMinute,
    timeWindow: 60_000,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: 'RATE_LIMITED',
      message: `more than ${ctx.max} requests per minute`,
    }),
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'MailSentra admin and feedback API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.decorateRequest('uiSession', null);
  // Before every route (the docs' included): its hooks guard, and list, only routes registered after it.
  await app.register(authPlugin, {
    keys: { verify: async (key) => (await base.storage).keys.verify(key) },
    failuresPerMinute: config.api.authFailuresPerMinute,
    credentials: async (request) => sessionCredential((await base.storage).sessions)(request),
  });
  // The OpenAPI document and its viewer are public: they describe the API, they grant nothing.
  await app.register(async (docs) => {
    docs.addHook('onRoute', markPublic);
    // Our own logo: without one the plugin reads Fastify's from disk on the thread pool while the server
    // gets ready, which on a loaded machine is a wait for a free core before /ready.
    await docs.register(swaggerUi, { routePrefix: '/docs', logo: DOCS_LOGO });
  });

  app.get(
    '/health',
    { config: { action: 'public' }, schema: { response: { 200: T.Object({ status: T.Literal('ok') }) } } },
    async () => ({
      status: 'ok' as const,
    }),
  );
  app.get('/metrics', { config: { action: 'public' }, schema: { hide: true } }, async (_request, reply) => {
    // The held count is the database's, read at the scrape: every process and instance then reports the
    // same figure whoever released or deleted last (a count kept per process went stale in the others).
    const store = await base.storage.catch(() => null);
    if (store)
      await withTimeout(store.quarantine.countHeld(), READY_TIMEOUT_MS, () => new Error('count timed out'))
        .then((held) => base.metrics.quarantineMessages.set(held))
        .catch(() => {});
    return reply
      .type(base.metrics.registry.contentType)
      .send(await (base.metricsText ? base.metricsText() : base.metrics.registry.metrics()));
  });
  return app;
}

/** A frame being built: awaited (`built`) where the routes are added; `drop` ends a start that stops before. */
export interface ApiFrameBuild {
  built: Promise<ApiFrame>;
  drop(): Promise<void>;
}

export function startApiFrame(base: ApiBase): ApiFrameBuild {
  const built = buildApiFrame(base);
  // Awaited later: a failure until then must not count as an unhandled rejection.
  built.catch(() => {});
  return {
    built,
    // It listens to nothing, but may hold what its plugins opened.
    async drop() {
      await (await built.catch(() => null))?.close();
    },
  };
}

/** The longest /ready waits for the database: orchestrators' probes time out in a few seconds. */
const READY_TIMEOUT_MS = 2000;

/** Adds the routes to a frame (built with this `storage`): the API, ready to listen. */
export async function buildApi(app: ApiFrame, deps: ApiDeps): Promise<FastifyInstance> {
  const { config, storage } = deps;
  if (config.api.adminApiKey) {
    const bootstrap = await storage.keys.ensure(config.api.adminApiKey, 'admin');
    if (bootstrap.revokedAt)
      deps.logger.warn(
        { event: 'BOOTSTRAP_KEY_REVOKED', keyId: bootstrap.id },
        'ADMIN_API_KEY names a revoked key: it stays revoked (unset it, or set a new one)',
      );
  }

  app.get(
    '/ready',
    {
      config: { action: 'public' },
      schema: {
        response: {
          200: T.Object({ database: T.Boolean(), model: T.Union([T.String(), T.Null()]) }),
          503: T.Object({ database: T.Boolean(), model: T.Union([T.String(), T.Null()]) }),
        },
      },
    },
    async (_request, reply) => {
      // A probe that hangs is an outage too: a database that stops answering answers 503 in bounded time.
      const limit = Math.min(config.database.timeoutMs, READY_TIMEOUT_MS);
      const database = await withTimeout(storage.ping(), limit, () => new Error('ping timed out')).catch(
        () => false,
      );
      let model: string | null = null;
      try {
        model = deps.activeModel.current().version;
      } catch {
        model = null;
      }
      return reply.code(database && model ? 200 : 503).send({ database, model });
    },
  );

  await app.register(messageRoutes, { storage });
  const feedback = {
    storage,
    scanner: deps.scanner,
    metrics: deps.metrics,
    feedbackSync: deps.feedbackSync ?? null,
  };
  const viewer = createMessageViewer();
  app.addHook('onClose', () => viewer.close());
  await app.register(quarantineRoutes, { ...feedback, relay: deps.relay, viewer });
  await app.register(feedbackRoutes, feedback);
  await app.register(scanRoutes, { scanner: deps.scanner, auth: deps.auth ?? null });
  await app.register(keyRoutes, { storage });
  const models = modelActions(deps);
  await app.register(modelRoutes, { storage, actions: models });
  await app.register(listRoutes, { storage, listCache: deps.listCache });
  await app.register(digestRoutes, { storage });
  await app.register(uiPlugin, {
    ...feedback,
    config,
    relay: deps.relay,
    listCache: deps.listCache,
    policy: deps.policy,
    signingKey: deps.signingKey,
    viewer,
    models,
  });
  return app as unknown as FastifyInstance;
}
