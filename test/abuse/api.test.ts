/**
 * Abuse of the admin API over real HTTP: key guessing, request floods, oversize bodies. Each test speaks from
 * its own loopback address (127.0.0.x), so the per-client counters of one test do not touch another's.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';

const ADMIN = 'abuse-admin-key-0123456789-abcdefghij';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** One request on a fresh connection from `from`; `body` as an array is sent chunked (no Content-Length). */
function request(
  port: number,
  from: string,
  options: { method?: string; path: string; key?: string; type?: string; body?: Buffer | Buffer[] },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
    if (options.type) headers['content-type'] = options.type;
    if (Buffer.isBuffer(options.body)) headers['content-length'] = options.body.length;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        agent: false,
        method: options.method ?? 'GET',
        path: options.path,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: the test will say so
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    // The server may answer (and hang up) before it read the whole body; the answer is what counts.
    req.on('error', reject);
    if (Array.isArray(options.body)) {
      for (const chunk of options.body) req.write(chunk);
      req.end();
    } else req.end(options.body);
  });
}

const errorShape = (error: string) => ({ error, message: expect.any(String) });

describe('API limits against abusive clients', () => {
  let svc: TestService;
  let ask: (from: string, options: Parameters<typeof request>[2]) => Promise<Answer>;
  beforeAll(async () => {
    svc = await startTestService({
      config: {
        api: { adminApiKey: ADMIN, authFailuresPerMinute: 5, rateLimitPerMinute: 40, bodyLimit: 4096 },
      },
    });
    ask = (from, options) => request(svc.apiPort, from, options);
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('answers 429 with {error, message} once a client has failed api.authFailuresPerMinute times', async () => {
    const guesser = '127.0.0.2';
    const limit = svc.config.api.authFailuresPerMinute;
    // Every way of failing counts: a wrong key, a malformed header, no header at all.
    const attempts = [
      { key: 'guess-0000000000000000' },
      { key: 'guess-0000000000000001' },
      { key: '' },
      {},
      { key: ADMIN.slice(0, -1) },
    ];
    expect(attempts).toHaveLength(limit);
    for (const a of attempts) {
      const r = await ask(guesser, { path: '/api/v1/messages', ...a });
      expect(r.status).toBe(401);
      expect(r.body).toEqual(errorShape('UNAUTHORIZED'));
    }
    const blocked = await ask(guesser, { path: '/api/v1/messages', key: 'guess-0000000000000002' });
    expect(blocked.status).toBe(429);
    expect(blocked.headers['content-type']).toMatch(/^application\/json/);
    expect(blocked.body).toEqual(errorShape('TOO_MANY_AUTH_FAILURES'));
  }, 10_000);

  it('never refuses a valid key for failures on the same address; still refuses wrong keys there', async () => {
    const shared = '127.0.0.3';
    for (let i = 0; i < svc.config.api.authFailuresPerMinute; i++) {
      expect((await ask(shared, { path: '/api/v1/models', key: `wrong-${i}` })).status).toBe(401);
    }
    // Everyone behind one proxy or on one host shares an address: a noisy client must not lock the admin out.
    expect((await ask(shared, { path: '/api/v1/models', key: ADMIN })).status).toBe(200);
    const wrong = await ask(shared, { path: '/api/v1/models', key: 'wrong-again' });
    expect(wrong.status).toBe(429);
    expect(wrong.body).toEqual(errorShape('TOO_MANY_AUTH_FAILURES'));
    const none = await ask(shared, { path: '/api/v1/models' });
    expect(none.status).toBe(429);
    // The count is per client, and public routes stay open.
    expect((await ask('127.0.0.4', { path: '/api/v1/models', key: 'wrong' })).status).toBe(401);
    expect((await ask(shared, { path: '/health' })).status).toBe(200);
  }, 10_000);

  it('limits every client to api.rateLimitPerMinute requests, whatever its key: 429 RATE_LIMITED', async () => {
    const busy = '127.0.0.5';
    const limit = svc.config.api.rateLimitPerMinute;
    for (let i = 0; i < limit; i++) {
      expect((await ask(busy, { path: '/api/v1/models', key: ADMIN })).status).toBe(200);
    }
    const over = await ask(busy, { path: '/api/v1/models', key: ADMIN });
    expect(over.status).toBe(429);
    expect(over.body).toEqual(errorShape('RATE_LIMITED'));
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect((await ask('127.0.0.6', { path: '/api/v1/models', key: ADMIN })).status).toBe(200);
  }, 10_000);

  it('answers 413 with {error, message} to a body over api.bodyLimit, declared or streamed', async () => {
    const from = '127.0.0.7';
    const limit = svc.config.api.bodyLimit;
    const scan = { method: 'POST', path: '/api/v1/scan', key: ADMIN, type: 'message/rfc822' };
    const small = Buffer.from('From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n');
    expect((await ask(from, { ...scan, body: small })).status).toBe(200);

    const declared = await ask(from, { ...scan, body: Buffer.alloc(limit * 2, 97) });
    expect(declared.status).toBe(413);
    expect(declared.body).toEqual(errorShape('BODY_TOO_LARGE'));

    // Chunked, no Content-Length: the limit holds on the bytes as they arrive.
    const streamed = await ask(from, { ...scan, body: [Buffer.alloc(limit, 97), Buffer.alloc(limit, 98)] });
    expect(streamed.status).toBe(413);
    expect(streamed.body).toEqual(errorShape('BODY_TOO_LARGE'));
  }, 10_000);
});
