/**
 * The configuration schema: every key, its type, default, and (where it has one) the environment variable
 * that overrides it. The configuration reference in docs/configuration.md is generated from this file
 * (`npm run docs:config`), so the two cannot drift.
 */
import { type Static, Type as T } from '@sinclair/typebox';

/** `host:port`, IPv6 in brackets (`[::1]:25`). Port 0 asks the OS for an ephemeral port (tests). */
const HostPort = (description: string, def: string) =>
  T.String({ description, default: def, pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$' });
const Probability = (description: string, def: number | null) =>
  T.Union([T.Number({ minimum: 0, maximum: 1 }), T.Null()], { description, default: def });
const FailureMode = (description: string, def: 'tempfail' | 'pass') =>
  T.Union([T.Literal('tempfail'), T.Literal('pass')], { description, default: def });
const Cidrs = (description: string, def: string[]) => T.Array(T.String(), { description, default: def });

export const PolicyThresholds = T.Object(
  {
    tag: Probability('score at or above which mail is tagged (X-Spam-Flag: YES, subject prefix)', 0.5),
    quarantine: Probability('score at or above which mail is quarantined; null = never', 0.95),
    reject: Probability('score at or above which mail is rejected with 550 5.7.1; null = never', null),
  },
  { additionalProperties: false },
);

const DmarcAction = (description: string, def: 'reject' | 'quarantine') =>
  T.Union([T.Literal('reject'), T.Literal('quarantine'), T.Literal('tag'), T.Literal('ignore')], {
    description,
    default: def,
  });

/** What a DMARC failure under the From domain's published policy leads to. */
export const DmarcHonour = T.Object(
  {
    reject: DmarcAction('DMARC fail under p=reject: reject, quarantine, tag or ignore', 'reject'),
    quarantine: DmarcAction('DMARC fail under p=quarantine: reject, quarantine, tag or ignore', 'quarantine'),
  },
  { additionalProperties: false },
);

/** An allow-list entry: a string, or an object that says whether the sender must be authenticated. */
export const SenderEntry = T.Union([
  T.String(),
  T.Object(
    {
      sender: T.String({ description: 'address or @domain' }),
      alignedOnly: T.Optional(
        T.Boolean({ description: 'applies only when SPF or DKIM authenticates the domain' }),
      ),
    },
    { additionalProperties: false },
  ),
]);

export const ConfigSchema = T.Object(
  {
    dataDir: T.String({
      description: 'embedded database and model files',
      default: './data',
      env: 'DATA_DIR',
    }),
    log: T.Object(
      {
        level: T.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => T.Literal(l)),
          { description: 'pino log level', default: 'info', env: 'LOG_LEVEL' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    smtp: T.Object(
      {
        listen: {
          ...T.String({
            description: 'inbound SMTP listener (host:port); off = no SMTP proxy (a milter-only instance)',
            default: '127.0.0.1:10025',
            pattern: '^(off|(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5})$',
          }),
          env: 'SMTP_LISTEN',
        },
        hostname: T.String({ description: 'name in the greeting and EHLO reply', default: 'mailsentra' }),
        maxMessageSize: T.Integer({
          minimum: 1024,
          description: 'SIZE limit in bytes (larger: 552 5.3.4)',
          default: 26_214_400,
        }),
        maxRecipients: T.Integer({
          minimum: 1,
          description: 'recipients per message (more: 452 4.5.3)',
          default: 100,
        }),
        maxSessions: T.Integer({
          minimum: 1,
          description: 'concurrent inbound sessions (more: 421 4.7.0 and disconnect)',
          default: 200,
        }),
        maxMessagesPerSession: T.Integer({
          minimum: 1,
          description: 'messages per SMTP session',
          default: 1000,
        }),
        processes: T.Integer({
          minimum: 1,
          maximum: 64,
          description:
            'SMTP processes sharing the listener (node:cluster), for a machine with several cores; above 1 needs DATABASE_URL',
          default: 1,
          env: 'SMTP_PROCESSES',
        }),
        idleTimeoutMs: T.Integer({ minimum: 100, description: 'socket idle timeout', default: 60_000 }),
        sessionTimeoutMs: T.Integer({
          minimum: 1000,
          description: 'total time one session may last',
          default: 600_000,
        }),
        allowNetworks: {
          ...Cidrs('client networks allowed to connect (others: 554 5.7.1); env: comma-separated', [
            '127.0.0.0/8',
            '::1/128',
          ]),
          env: 'SMTP_ALLOW_NETWORKS',
        },
        proxyProtocolFrom: {
          ...Cidrs(
            'load balancers that send a PROXY protocol v1 header (HAProxy send-proxy); when set, only they may connect, and the client address they report is the one checked and logged',
            [],
          ),
          env: 'SMTP_PROXY_PROTOCOL_FROM',
        },
        trustedForwarders: Cidrs('clients whose XFORWARD attributes are believed', [
          '127.0.0.0/8',
          '::1/128',
        ]),
        tlsCert: T.Union([T.String(), T.Null()], {
          description: 'PEM certificate file; with tlsKey enables STARTTLS',
          default: null,
        }),
        tlsKey: T.Union([T.String(), T.Null()], { description: 'PEM private key file', default: null }),
        bareLineEndings: T.Union([T.Literal('reject'), T.Literal('normalize')], {
          description:
            'bare LF / bare CR in DATA (SMTP smuggling): reject with 550 5.6.0, or normalise to CRLF',
          default: 'reject',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    milter: T.Object(
      {
        listen: T.Union(
          [T.String({ pattern: '^((\\[[0-9a-fA-F:.]+\\]|[^:\\s/]+):[0-9]{1,5}|/\\S+)$' }), T.Null()],
          {
            description:
              'milter server for Postfix smtpd_milters / Sendmail: host:port or a unix socket path; unset = off',
            default: null,
            env: 'MILTER_LISTEN',
          },
        ),
        progressIntervalMs: T.Integer({
          minimum: 10,
          description: 'while a message is being decided, tell the MTA we are alive (PROGRESS) this often',
          default: 10_000,
        }),
        idleTimeoutMs: T.Integer({
          minimum: 1000,
          description: 'a milter connection silent this long is closed',
          default: 3_600_000,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    relay: T.Object(
      {
        to: {
          ...HostPort('next hop for passed, tagged and released mail', '127.0.0.1:10026'),
          env: 'RELAY_TO',
        },
        maxConnections: T.Integer({
          minimum: 1,
          description: 'pooled connections to the next hop',
          default: 10,
        }),
        timeoutMs: T.Integer({
          minimum: 100,
          description: 'connect/greeting/command timeout toward the next hop',
          default: 30_000,
        }),
        requireTls: T.Boolean({ description: 'refuse to relay without STARTTLS', default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
    api: T.Object(
      {
        listen: { ...HostPort('admin/feedback API, /metrics, /health', '127.0.0.1:8080'), env: 'API_LISTEN' },
        adminApiKey: T.Union([T.String({ minLength: 32 }), T.Null()], {
          description: 'bootstrap admin key (at least 32 characters); revoking it through the API is final',
          default: null,
          env: 'ADMIN_API_KEY',
          secret: true,
        }),
        rateLimitPerMinute: T.Integer({
          minimum: 1,
          description: 'requests per minute per client',
          default: 600,
        }),
        authFailuresPerMinute: T.Integer({
          minimum: 1,
          description: 'failed authentications per minute per client',
          default: 20,
        }),
        trustProxy: T.Union([T.Boolean(), T.Integer({ minimum: 1 }), T.String({ minLength: 1 })], {
          description:
            'proxies trusted for X-Forwarded-For (client address for limits and audit): false, true, a hop count, or comma-separated addresses/CIDRs',
          default: false,
          env: 'API_TRUST_PROXY',
        }),
        bodyLimit: T.Integer({
          minimum: 1024,
          description: 'largest request body in bytes (larger: 413)',
          default: 26_214_400,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    database: T.Object(
      {
        url: T.Union([T.String({ pattern: '^postgres(ql)?://' }), T.Null()], {
          description: 'PostgreSQL URL; unset = embedded PGlite under dataDir',
          default: null,
          env: 'DATABASE_URL',
          secret: true,
        }),
        poolSize: T.Integer({ minimum: 1, description: 'connections in the pg pool', default: 10 }),
        syncIntervalSeconds: T.Integer({
          minimum: 1,
          description:
            'how often each process checks the database for a model activation or feedback it was not told of',
          default: 30,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    redis: T.Object(
      {
        url: T.Union([T.String({ pattern: '^rediss?://' }), T.Null()], {
          description: 'Redis URL; unset = in-process cache only',
          default: null,
          env: 'REDIS_URL',
          secret: true,
        }),
        commandTimeoutMs: T.Integer({
          minimum: 1,
          description: 'a Redis call slower than this counts as a miss',
          default: 50,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    cache: T.Object(
      {
        enabled: T.Boolean({
          description: 'verdict cache on/off (env: on/off)',
          default: true,
          env: 'VERDICT_CACHE',
        }),
        ttlSeconds: T.Integer({ minimum: 1, description: 'verdict cache lifetime', default: 86_400 }),
        memoryEntries: T.Integer({ minimum: 1, description: 'L1 entries', default: 20_000 }),
        memoryBytes: T.Integer({
          minimum: 1024,
          description: 'L1 size bound in bytes',
          default: 64 * 1024 * 1024,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    scanner: T.Object(
      {
        maxScanBytes: T.Integer({
          minimum: 1024,
          description: 'bytes of a message given to the classifier',
          default: 512_000,
        }),
        workers: T.Integer({
          minimum: 0,
          description: 'parse/feature worker threads; 0 = on the main thread',
          default: 2,
        }),
        workerMinBytes: T.Integer({
          minimum: 0,
          description: 'messages smaller than this are parsed on the main thread (cheaper than the hand-off)',
          default: 32_768,
        }),
        timeoutMs: T.Integer({
          minimum: 10,
          description: 'longest a scan may take before the classifier failure mode applies',
          default: 10_000,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    policy: T.Object(
      {
        thresholds: { ...PolicyThresholds, default: {} },
        subjectPrefix: T.String({
          description: 'prefix for the subject of tagged mail; empty = none',
          default: '[SPAM] ',
        }),
        domains: T.Record(
          T.String(),
          T.Composite(
            [T.Partial(PolicyThresholds), T.Object({ dmarc: T.Optional(T.Partial(DmarcHonour)) })],
            { additionalProperties: false },
          ),
          {
            description: 'per-recipient-domain overrides of the thresholds and of dmarc',
            default: {},
          },
        ),
        dmarc: {
          ...DmarcHonour,
          description: "what a DMARC failure leads to, by the From domain's published policy",
          default: {},
        },
        allowSenders: T.Array(SenderEntry, {
          description:
            'sender addresses or @domains always passed; @domain entries apply only to authenticated (SPF or DKIM aligned) senders unless {sender, alignedOnly: false}',
          default: [],
        }),
        blockSenders: T.Array(T.String(), {
          description: 'sender addresses or @domains always treated as spam',
          default: [],
        }),
        allowClients: Cidrs('client networks always passed', []),
        blockClients: Cidrs('client networks always treated as spam', []),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: T.Object(
      {
        enabled: T.Boolean({
          description: 'verify SPF, DKIM, DMARC and ARC on every message',
          default: true,
        }),
        authservId: T.Union([T.String({ minLength: 1, pattern: '^[^\\s;()"]+$' }), T.Null()], {
          description: 'authserv-id of our Authentication-Results header; null = smtp.hostname',
          default: null,
        }),
        minKeyBits: T.Integer({
          minimum: 512,
          description: 'shortest DKIM/ARC RSA key accepted',
          default: 1024,
        }),
        trustedArcSealers: T.Array(T.String(), {
          description:
            'ARC sealers (forwarders, lists) whose passing chain with dmarc=pass lifts a DMARC failure',
          default: [],
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    dns: T.Object(
      {
        servers: T.Array(T.String(), {
          description:
            "resolvers for authentication lookups (ip or ip:port); empty = the system's; env: comma-separated",
          default: [],
          env: 'DNS_SERVERS',
        }),
        timeoutMs: T.Integer({ minimum: 1, description: 'one lookup to one server', default: 1500 }),
        budgetMs: T.Integer({
          minimum: 1,
          description: 'all lookups of one message; past it, the methods left are temperror',
          default: 4000,
        }),
        maxTtlSeconds: T.Integer({ minimum: 0, description: 'longest an answer is cached', default: 3600 }),
        negativeTtlSeconds: T.Integer({
          minimum: 0,
          description: 'how long a negative answer without SOA is cached',
          default: 300,
        }),
        memoryEntries: T.Integer({
          minimum: 1,
          description: 'answers in the in-process cache',
          default: 20_000,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    failure: T.Object(
      {
        classifier: FailureMode(
          'classifier error or timeout: tempfail (451 4.3.0) or pass untagged',
          'tempfail',
        ),
        quarantineStore: FailureMode(
          'quarantine cannot be stored: tempfail (451 4.3.0) or pass tagged',
          'tempfail',
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    logBuffer: T.Object(
      {
        maxRows: T.Integer({
          minimum: 1,
          description: 'verdict-log rows held while the database is slow or down',
          default: 50_000,
        }),
        maxRawBytes: T.Integer({
          minimum: 0,
          description:
            'raw message bytes held in the buffer; past it a row is kept without its raw bytes (counted)',
          default: 268_435_456,
        }),
        flushRows: T.Integer({ minimum: 1, description: 'rows per batched insert', default: 500 }),
        flushIntervalMs: T.Integer({
          minimum: 10,
          description: 'longest a row waits before a flush',
          default: 1000,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    retention: T.Object(
      {
        logDays: T.Number({ minimum: 0, description: 'days verdict-log rows are kept', default: 30 }),
        rawDays: T.Number({
          minimum: 0,
          description: 'days raw bytes of logged (non-quarantined) mail are kept',
          default: 7,
        }),
        quarantineDays: T.Number({ minimum: 0, description: 'quarantine lifetime in days', default: 7 }),
        purgeIntervalMinutes: T.Number({
          minimum: 0.01,
          description: 'how often the purge job runs',
          default: 60,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    ui: T.Object(
      {
        sessionHours: T.Number({
          minimum: 0.01,
          description: 'console session lifetime after sign-in',
          default: 8,
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    digest: T.Object(
      {
        enabled: T.Boolean({ description: 'quarantine digests on/off', default: true }),
        intervalHours: T.Number({
          minimum: 0.01,
          description: 'hours between two digests to one recipient',
          default: 24,
        }),
        domains: T.Record(T.String(), T.Number({ minimum: 0 }), {
          description: 'per-recipient-domain interval in hours; 0 = no digest for that domain',
          default: {},
        }),
        baseUrl: T.Union([T.String({ pattern: '^https?://' }), T.Null()], {
          description: 'URL of this service as recipients reach it (links); null = http://<api.listen>',
          default: null,
        }),
        from: T.String({ description: 'sender of digest mail', default: 'postmaster@localhost' }),
        signingKey: T.Union([T.String({ minLength: 32 }), T.Null()], {
          description: 'HMAC key of digest links; null = a random key kept in the database',
          secret: true,
          default: null,
        }),
        linkDays: T.Number({ minimum: 0.01, description: 'days a digest link stays valid', default: 7 }),
        subscriptionDays: T.Number({
          minimum: 0.01,
          description: "days a digest's unsubscribe (and subscribe-again) link stays valid",
          default: 90,
        }),
        checkMinutes: T.Number({
          minimum: 0.01,
          description: 'how often the digest job looks for recipients due',
          default: 10,
        }),
        maxItems: T.Integer({ minimum: 1, description: 'rows listed in one digest', default: 200 }),
      },
      { default: {}, additionalProperties: false },
    ),
    shutdownGraceMs: T.Integer({
      minimum: 0,
      description: 'SIGTERM: time sessions in flight get to finish',
      default: 30_000,
    }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type FailureModeValue = 'tempfail' | 'pass';
export type Thresholds = Static<typeof PolicyThresholds>;
export type DmarcHonourValue = Static<typeof DmarcHonour>;
export type SenderEntryValue = Static<typeof SenderEntry>;
