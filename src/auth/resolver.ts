/**
 * The resolver the verifier asks: cache (L1, Redis) first, then the configured servers in order, each for at
 * most dns.timeoutMs, all within the message's budget (dns.budgetMs). Identical questions in flight share one
 * query. Never hangs: every path ends in records or a DnsError by the deadline, and mailauth turns a failure
 * into temperror.
 */
import { getServers } from 'node:dns';
import type { Metrics } from '../observability/metrics.js';
import { parseServer } from '../util/resolver-address.js';
import type { DnsCache } from './dns-cache.js';
import { ask, DnsError, type DnsRecords, RECORD_TYPES, type RecordType } from './dns-client.js';

export interface ResolverOptions {
  /** `host` or `host:port` (IPv6 in brackets with a port); empty = the system's (/etc/resolv.conf). */
  servers: readonly string[];
  timeoutMs: number;
  budgetMs: number;
  maxTtlSeconds: number;
  /** For a negative answer without an SOA to say how long it holds. */
  negativeTtlSeconds: number;
}

/** mailauth's resolver contract: node:dns's `resolve(name, type)`. */
export type MailauthResolver = (name: string, type: string) => Promise<DnsRecords>;

export interface Resolver {
  /** `deadline`: epoch ms after which the lookup fails with ETIMEOUT. */
  lookup(name: string, type: string, deadline: number): Promise<DnsRecords>;
  /** A resolver for one message: every lookup it makes shares one budget of dns.budgetMs. */
  forMessage(): MailauthResolver;
  /** Whether the answer is in the in-process cache now (a prefetch of it would only repeat the lookup). */
  inMemory(name: string, type: string): boolean;
}

const VALID_NAME = /^(?=.{1,253}$)([^.\s]{1,63}\.)*[^.\s]{1,63}$/;

type ErrorReason = 'timeout' | 'servfail' | 'refused' | 'badresp' | 'budget';
const REASON: Partial<Record<string, ErrorReason>> = {
  ETIMEOUT: 'timeout',
  ESERVFAIL: 'servfail',
  EREFUSED: 'refused',
  EBADRESP: 'badresp',
};

export function createResolver(
  options: ResolverOptions,
  deps: { cache: DnsCache; metrics: Metrics },
): Resolver {
  const { cache, metrics } = deps;
  const servers = (options.servers.length > 0 ? options.servers : getServers()).map(parseServer);
  const inflight = new Map<string, Promise<DnsRecords>>();

  async function fromNetwork(
    name: string,
    type: RecordType,
    key: string,
    deadline: number,
  ): Promise<DnsRecords> {
    const started = performance.now();
    let failure: DnsError = new DnsError('ETIMEOUT', name, type);
    for (const server of servers) {
      const ms = Math.min(options.timeoutMs, deadline - Date.now());
      if (ms <= 0) break;
      try {
        const answer = await ask(server, name, type, ms);
        metrics.dnsLookupDuration.observe({ source: 'network' }, (performance.now() - started) / 1000);
        const ttl = Math.min(answer.ttl, options.maxTtlSeconds);
        cache.set(key, { records: answer.records, negative: null, expiresAt: Date.now() + ttl * 1000 });
        return answer.records;
      } catch (err) {
        if (!(err instanceof DnsError)) throw err;
        if (err.code === 'ENOTFOUND' || err.code === 'ENODATA') {
          metrics.dnsLookupDuration.observe({ source: 'network' }, (performance.now() - started) / 1000);
          const ttl = Math.min(err.ttl ?? options.negativeTtlSeconds, options.maxTtlSeconds);
          cache.set(key, { records: null, negative: err.code, expiresAt: Date.now() + ttl * 1000 });
          throw err;
        }
        // SERVFAIL, REFUSED, a timeout: the next server may do better (as resolv.conf's resolvers do).
        failure = err;
      }
    }
    metrics.dnsErrors.inc({ reason: REASON[failure.code] ?? 'badresp' });
    throw failure;
  }

  const keyOf = (name: string, type: string) => `${type}:${name}`;

  async function lookup(rawName: string, rawType: string, deadline: number): Promise<DnsRecords> {
    const name = rawName.replace(/\.$/, '').toLowerCase();
    const type = rawType.toUpperCase() as RecordType;
    if (!RECORD_TYPES.includes(type)) throw new DnsError('ENODATA', name, rawType);
    if (!VALID_NAME.test(name)) throw new DnsError('ENOTFOUND', name, type);
    const key = keyOf(name, type);
    const started = performance.now();
    const cached = await cache.get(key);
    if (cached) {
      metrics.dnsLookupDuration.observe({ source: cached.tier }, (performance.now() - started) / 1000);
      const { answer } = cached;
      if (answer.negative) throw new DnsError(answer.negative, name, type);
      return answer.records as DnsRecords;
    }
    if (deadline - Date.now() <= 0) {
      metrics.dnsErrors.inc({ reason: 'budget' });
      throw new DnsError('ETIMEOUT', name, type);
    }
    let pending = inflight.get(key);
    if (!pending) {
      pending = fromNetwork(name, type, key, deadline).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    // A shared query may have a later deadline than this message's: this message stops waiting at its own.
    return new Promise<DnsRecords>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          metrics.dnsErrors.inc({ reason: 'budget' });
          reject(new DnsError('ETIMEOUT', name, type));
        },
        Math.max(0, deadline - Date.now()),
      );
      (pending as Promise<DnsRecords>).then(
        (records) => {
          clearTimeout(timer);
          resolve(records);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  return {
    lookup,
    inMemory: (name, type) =>
      cache.inMemory(keyOf(name.replace(/\.$/, '').toLowerCase(), type.toUpperCase())),
    forMessage() {
      const deadline = Date.now() + options.budgetMs;
      return (name, type) => lookup(name, type, deadline);
    },
  };
}
