/**
 * The configuration schema: every key, its type, default, and (where it has one) the environment variable
 * that overrides it. The configuration reference in docs/configuration.md is generated from this file
 * (`npm run docs:config`), so the two cannot drift.
 */
import { type Static, Type as T, type TProperties, type TSchema } from '@sinclair/typebox';

/** `host:port`, IPv6 in brackets (`[::1]:25`). Port 0 asks the OS for an ephemeral port (tests). */
const HostPort = (description: string, def: string) =>
  T.String({ description, default: def, pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5}$' });
const Probability = (description: string, def: number | null) =>
  T.Union([T.Number({ minimum: 0, maximum: 1 }), T.Null()], { description, default: def });
const FailureMode = (description: string, def: 'tempfail' | 'pass') =>
  T.Union([T.Literal('tempfail'), T.Literal('pass')], { description, default: def });
const Cidrs = (description: string, def: string[]) => T.Array(T.String(), { description, default: def });
/** A setting unset (null) by default; `extra` names its environment variable and whether it is a secret. */
const Unset = <S extends TSchema>(
  value: S,
  description: string,
  extra: { env?: string; secret?: boolean } = {},
) => T.Union([value, T.Null()], { description, default: null, ...extra });
/** A whole number (`IntAtLeast`) or a number (`NumAtLeast`) of at least `minimum`. */
const IntAtLeast = (minimum: number, description: string, def: number, extra: { env?: string } = {}) =>
  T.Integer({ minimum, description, default: def, ...extra });
const NumAtLeast = (minimum: number, description: string, def: number, extra: { env?: string } = {}) =>
  T.Number({ minimum, description, default: def, ...extra });
/** A section of the file: each of its keys has a default, so an absent section is all defaults. */
const Section = <P extends TProperties>(properties: P) =>
  T.Object(properties, { default: {}, additionalProperties: false });

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
    log: Section({
      level: T.Union(
        ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => T.Literal(l)),
        { description: 'pino log level', default: 'info', env: 'LOG_LEVEL' },
      ),
    }),
    smtp: Section({
      listen: {
        ...T.String({
          description: 'inbound SMTP listener (host:port); off = no SMTP proxy (a milter-only instance)',
          default: '127.0.0.1:10025',
          pattern: '^(off|(\\[[0-9a-fA-F:.]+\\]|[^:\\s]+):[0-9]{1,5})$',
        }),
        env: 'SMTP_LISTEN',
      },
      hostname: T.String({ description: 'name in the greeting and EHLO reply', default: 'mailsentra' }),
      maxMessageSize: IntAtLeast(1024, 'SIZE limit in bytes (larger: 552 5.3.4)', 26_214_400),
      maxRecipients: IntAtLeast(1, 'recipients per message (more: 452 4.5.3)', 100),
      maxSessions: IntAtLeast(1, 'concurrent inbound sessions (more: 421 4.7.0 and disconnect)', 200),
      maxMessagesPerSession: IntAtLeast(1, 'messages per SMTP session', 1000),
      processes: T.Integer({
        minimum: 1,
        maximum: 64,
        description:
          'SMTP processes sharing the listener (node:cluster), for a machine with several cores; above 1 needs DATABASE_URL',
        default: 1,
        env: 'SMTP_PROCESSES',
      }),
      idleTimeoutMs: IntAtLeast(100, 'socket idle timeout', 60_000),
      sessionTimeoutMs: IntAtLeast(1000, 'total time one session may last', 600_000),
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
      trustedForwarders: Cidrs('clients whose XFORWARD attributes are believed', ['127.0.0.0/8', '::1/128']),
      tlsCert: Unset(T.String(), 'PEM certificate file; with tlsKey enables STARTTLS'),
      tlsKey: Unset(T.String(), 'PEM private key file'),
      bareLineEndings: T.Union([T.Literal('reject'), T.Literal('normalize')], {
        description:
          'bare LF / bare CR in DATA (SMTP smuggling): reject with 550 5.6.0, or normalise to CRLF',
        default: 'reject',
      }),
    }),
    milter: Section({
      listen: Unset(
        T.String({ pattern: '^((\\[[0-9a-fA-F:.]+\\]|[^:\\s/]+):[0-9]{1,5}|/\\S+)$' }),
        'milter server for Postfix smtpd_milters / Sendmail: host:port or a unix socket path; unset = off',
        { env: 'MILTER_LISTEN' },
      ),
      progressIntervalMs: IntAtLeast(
        10,
        'while a message is being decided, tell the MTA we are alive (PROGRESS) this often',
        10_000,
      ),
      idleTimeoutMs: IntAtLeast(1000, 'a milter connection silent this long is closed', 3_600_000),
      socketMode: T.String({
        pattern: '^0?[0-7]{3}$',
        description:
          "a unix socket's permissions (octal): the MTA's user must be able to write it (e.g. 0660 with postfix in the service's group)",
        default: '0660',
      }),
    }),
    relay: Section({
      to: {
        ...HostPort('next hop for passed, tagged and released mail', '127.0.0.1:10026'),
        env: 'RELAY_TO',
      },
      maxConnections: IntAtLeast(1, 'pooled connections to the next hop', 10),
      timeoutMs: IntAtLeast(100, 'connect/greeting/command timeout toward the next hop', 30_000),
      requireTls: T.Boolean({ description: 'refuse to relay without STARTTLS', default: false }),
    }),
    api: Section({
      listen: { ...HostPort('admin/feedback API, /metrics, /health', '127.0.0.1:8080'), env: 'API_LISTEN' },
      adminApiKey: Unset(
        T.String({ minLength: 32 }),
        'bootstrap admin key (at least 32 characters); revoking it through the API is final',
        { env: 'ADMIN_API_KEY', secret: true },
      ),
      rateLimitPerMinute: IntAtLeast(1, 'requests per minute per client', 600),
      authFailuresPerMinute: IntAtLeast(1, 'failed authentications per minute per client', 20),
      trustProxy: T.Union([T.Boolean(), T.Integer({ minimum: 1 }), T.String({ minLength: 1 })], {
        description:
          'proxies trusted for X-Forwarded-For (client address for limits and audit): false, true, a hop count, or comma-separated addresses/CIDRs',
        default: false,
        env: 'API_TRUST_PROXY',
      }),
      bodyLimit: IntAtLeast(1024, 'largest request body in bytes (larger: 413)', 26_214_400),
    }),
    database: Section({
      url: Unset(
        T.String({ pattern: '^postgres(ql)?://' }),
        'PostgreSQL URL; unset = embedded PGlite under dataDir',
        { env: 'DATABASE_URL', secret: true },
      ),
      poolSize: IntAtLeast(1, 'connections in the pg pool', 10),
      syncIntervalSeconds: IntAtLeast(
        1,
        'how often each process checks the database for a model activation or feedback it was not told of',
        30,
      ),
      timeoutMs: IntAtLeast(
        100,
        'how long a quarantine write waits for the database before the message gets failure.quarantineStore; also the bound of a new connection and of /ready (at most 2 s)',
        30_000,
      ),
    }),
    redis: Section({
      url: Unset(T.String({ pattern: '^rediss?://' }), 'Redis URL; unset = in-process cache only', {
        env: 'REDIS_URL',
        secret: true,
      }),
      commandTimeoutMs: IntAtLeast(1, 'a Redis call slower than this counts as a miss', 50),
    }),
    cache: Section({
      enabled: T.Boolean({
        description: 'verdict cache on/off (env: on/off)',
        default: true,
        env: 'VERDICT_CACHE',
      }),
      ttlSeconds: IntAtLeast(1, 'verdict cache lifetime', 86_400),
      memoryEntries: IntAtLeast(1, 'L1 entries', 20_000),
      memoryBytes: IntAtLeast(1024, 'L1 size bound in bytes', 64 * 1024 * 1024),
    }),
    scanner: Section({
      maxScanBytes: IntAtLeast(1024, 'bytes of a message given to the classifier', 512_000),
      workers: IntAtLeast(0, 'parse/feature worker threads; 0 = on the main thread', 2),
      workerMinBytes: IntAtLeast(
        0,
        'messages smaller than this are parsed on the main thread (cheaper than the hand-off)',
        32_768,
      ),
      timeoutMs: IntAtLeast(10, 'longest a scan may take before the classifier failure mode applies', 10_000),
    }),
    policy: Section({
      thresholds: { ...PolicyThresholds, default: {} },
      subjectPrefix: T.String({
        description: 'prefix for the subject of tagged mail; empty = none',
        default: '[SPAM] ',
      }),
      domains: T.Record(
        T.String(),
        T.Composite([T.Partial(PolicyThresholds), T.Object({ dmarc: T.Optional(T.Partial(DmarcHonour)) })], {
          additionalProperties: false,
        }),
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
    }),
    auth: Section({
      enabled: T.Boolean({
        description: 'verify SPF, DKIM, DMARC and ARC on every message',
        default: true,
      }),
      authservId: Unset(
        T.String({ minLength: 1, pattern: '^[^\\s;()"]+$' }),
        'authserv-id of our Authentication-Results header; null = smtp.hostname',
      ),
      minKeyBits: IntAtLeast(512, 'shortest DKIM/ARC RSA key accepted', 1024),
      trustedArcSealers: T.Array(T.String(), {
        description:
          'ARC sealers (forwarders, lists) whose passing chain with dmarc=pass lifts a DMARC failure',
        default: [],
      }),
    }),
    dns: Section({
      servers: T.Array(T.String(), {
        description:
          "resolvers for authentication lookups (ip or ip:port); empty = the system's; env: comma-separated",
        default: [],
        env: 'DNS_SERVERS',
      }),
      timeoutMs: IntAtLeast(1, 'one lookup to one server', 1500),
      budgetMs: IntAtLeast(1, 'all lookups of one message; past it, the methods left are temperror', 4000),
      maxTtlSeconds: IntAtLeast(0, 'longest an answer is cached', 3600),
      negativeTtlSeconds: IntAtLeast(0, 'how long a negative answer without SOA is cached', 300),
      memoryEntries: IntAtLeast(1, 'answers in the in-process cache', 20_000),
    }),
    failure: Section({
      classifier: FailureMode(
        'classifier error or timeout: tempfail (451 4.3.0) or pass untagged',
        'tempfail',
      ),
      quarantineStore: FailureMode(
        'quarantine cannot be stored: tempfail (451 4.3.0) or pass tagged',
        'tempfail',
      ),
    }),
    logBuffer: Section({
      maxRows: IntAtLeast(1, 'verdict-log rows held while the database is slow or down', 50_000),
      maxRawBytes: IntAtLeast(
        0,
        'raw message bytes held in the buffer; past it a row is kept without its raw bytes (counted)',
        268_435_456,
      ),
      flushRows: IntAtLeast(1, 'rows per batched insert', 500),
      flushIntervalMs: IntAtLeast(10, 'longest a row waits before a flush', 1000),
    }),
    retention: Section({
      logDays: NumAtLeast(0, 'days verdict-log rows are kept', 30),
      rawDays: NumAtLeast(0, 'days raw bytes of logged (non-quarantined) mail are kept', 7),
      quarantineDays: NumAtLeast(0, 'quarantine lifetime in days', 7),
      purgeIntervalMinutes: NumAtLeast(0.01, 'how often the purge job runs', 60),
    }),
    ui: Section({
      sessionHours: NumAtLeast(0.01, 'console session lifetime after sign-in', 8),
    }),
    digest: Section({
      enabled: T.Boolean({ description: 'quarantine digests on/off', default: true }),
      intervalHours: NumAtLeast(0.01, 'hours between two digests to one recipient', 24),
      domains: T.Record(T.String(), T.Number({ minimum: 0 }), {
        description: 'per-recipient-domain interval in hours; 0 = no digest for that domain',
        default: {},
      }),
      baseUrl: Unset(
        T.String({ pattern: '^https?://' }),
        'URL of this service as recipients reach it (links); null = http://<api.listen>',
      ),
      from: T.String({ description: 'sender of digest mail', default: 'postmaster@localhost' }),
      signingKey: Unset(
        T.String({ minLength: 32 }),
        'HMAC key of digest links; null = a random key kept in the database',
        { secret: true },
      ),
      linkDays: NumAtLeast(0.01, 'days a digest link stays valid', 7),
      subscriptionDays: NumAtLeast(
        0.01,
        "days a digest's unsubscribe (and subscribe-again) link stays valid",
        90,
      ),
      checkMinutes: NumAtLeast(0.01, 'how often the digest job looks for recipients due', 10),
      maxItems: IntAtLeast(1, 'rows listed in one digest', 200),
    }),
    shutdownGraceMs: IntAtLeast(0, 'SIGTERM: time sessions in flight get to finish', 30_000),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type FailureModeValue = 'tempfail' | 'pass';
export type Thresholds = Static<typeof PolicyThresholds>;
export type DmarcHonourValue = Static<typeof DmarcHonour>;
export type SenderEntryValue = Static<typeof SenderEntry>;
