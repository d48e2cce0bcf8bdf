/**
 * The admin and feedback API of a service built by the composition root: embedded PGlite storage, the real
 * scanner and model, the real relay delivering to a recording SMTP sink on 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../src/api/roles.js';
import type { LinearModel } from '../../src/classifier/linear-model.js';
import { deserializeModel } from '../../src/classifier/model.js';
import { loadDefaultModel } from '../../src/classifier/model-source.js';
import type { Evaluation } from '../../src/classifier/types.js';
import type { OpenedStorage } from '../../src/store/index.js';
import { holdSpam, startTestApi, type TestApi } from '../helpers/api.js';
import { logEntry } from '../helpers/log-entry.js';
import { startStallMeter } from '../helpers/loop-stall.js';
import type { Sink } from '../helpers/sink.js';

const ADMIN = 'admin-bootstrap-key-0123456789-abcdefghij';
const raw = (subject: string, body: string) =>
  Buffer.from(
    `From: Sender <s@example.org>\r\nTo: r@example.net\r\nSubject: ${subject}\r\nMessage-ID: <${subject.length}@x>\r\n\r\n${body}\r\n`,
  );

let api: TestApi;
let app: FastifyInstance;
let storage: OpenedStorage;
let sink: Sink;
let analystKey: string;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  api = await startTestApi({ api: { adminApiKey: ADMIN, authFailuresPerMinute: 5, bodyLimit: 4096 } });
  ({ app, storage, sink } = api);
  analystKey = (await storage.keys.create('analyst', 'test')).key;
}, 120_000);

afterAll(async () => {
  await api?.close();
});

/** The analyst's POST /api/v1/feedback. */
const feedback = (payload: object) =>
  app.inject({ method: 'POST', url: '/api/v1/feedback', headers: auth(analystKey), payload });

async function hold(recipients: string[], subject = 'Cheap pills') {
  const [first] = await holdSpam(storage, recipients, { subject, raw: raw(subject, 'Buy now <b>cheap</b>') });
  return first as NonNullable<typeof first>;
}

describe('authentication', () => {
  it('answers 401 with the error shape without a key or with a wrong one', async () => {
    const none = await app.inject({ method: 'GET', url: '/api/v1/messages' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: 'UNAUTHORIZED', message: expect.any(String) });
  });

  it('bootstraps ADMIN_API_KEY as an admin key', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/keys', headers: auth(ADMIN) });
    expect(res.statusCode).toBe(200);
  });
});

describe('roles, as a table: analyst reads and gives feedback; admin does everything', () => {
  const routes: { action: keyof typeof PERMISSIONS; method: 'GET' | 'POST' | 'DELETE'; url: string }[] = [
    { action: 'messages:read', method: 'GET', url: '/api/v1/messages' },
    { action: 'quarantine:read', method: 'GET', url: '/api/v1/quarantine' },
    {
      action: 'quarantine:release',
      method: 'POST',
      url: '/api/v1/quarantine/00000000-0000-0000-0000-000000000000/release',
    },
    {
      action: 'quarantine:delete',
      method: 'DELETE',
      url: '/api/v1/quarantine/00000000-0000-0000-0000-000000000000',
    },
    { action: 'models:read', method: 'GET', url: '/api/v1/models' },
    { action: 'models:activate', method: 'POST', url: '/api/v1/models/nope/activate' },
    { action: 'keys:read', method: 'GET', url: '/api/v1/keys' },
    { action: 'keys:write', method: 'DELETE', url: '/api/v1/keys/00000000-0000-0000-0000-000000000000' },
    { action: 'audit:read', method: 'GET', url: '/api/v1/audit' },
  ];
  for (const r of routes) {
    for (const role of ['admin', 'analyst'] as const) {
      const allowed = PERMISSIONS[r.action].includes(role);
      it(`${role} ${allowed ? 'may' : 'may not'} ${r.method} ${r.url}`, async () => {
        const res = await app.inject({
          method: r.method,
          url: r.url,
          headers: auth(role === 'admin' ? ADMIN : analystKey),
        });
        if (allowed) expect(res.statusCode).not.toBe(403);
        else expect(res.json()).toMatchObject({ error: 'FORBIDDEN' });
      });
    }
  }
  it('gives the analyst no release, delete or train', () => {
    expect(PERMISSIONS['quarantine:release']).toEqual(['admin']);
    expect(PERMISSIONS['quarantine:delete']).toEqual(['admin']);
    expect(PERMISSIONS['models:activate']).toEqual(['admin']);
  });
});

describe('quarantine', () => {
  it('shows headers, the text body and never unescaped HTML', async () => {
    const item = await hold(['a@example.net']);
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/quarantine/${item.id}`,
      headers: auth(analystKey),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.headers.subject).toBe('Cheap pills');
    expect(body.text).toContain('Buy now');
    expect(body.item.id).toBe(item.id);
  });

  it('release delivers the stored bytes to the next hop with the original envelope, and audits who did it', async () => {
    const item = await hold(['b@example.net', 'c@example.net'], 'Release me');
    const before = sink.messages.length;
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/quarantine/${item.id}/release`,
      headers: auth(ADMIN),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().state).toBe('released');
    const got = sink.messages.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]?.mailFrom).toBe('bounce@example.org');
    expect(got[0]?.rcptTo).toEqual([item.recipient]);
    // Not re-scanned: the bytes arrive without any X-Spam stamp added on the way.
    expect(got[0]?.raw.toString()).not.toMatch(/X-Spam/i);
    const audit = await storage.audit.list(50);
    const adminKey = (await storage.keys.list()).find((k) => k.role === 'admin');
    expect(audit.find((a) => a.action === 'quarantine.release' && a.target === item.id)?.actor).toBe(
      `key:${adminKey?.id}`,
    );
    const again = await app.inject({
      method: 'POST',
      url: `/api/v1/quarantine/${item.id}/release`,
      headers: auth(ADMIN),
    });
    expect(again.json()).toMatchObject({ error: 'CONFLICT' });
  });

  it('a refused release answers 502 RELAY_FAILED and leaves the row held', async () => {
    const item = await hold(['refused@example.net']);
    sink.behaviour = {
      kind: 'refuse-rcpt',
      recipients: { 'refused@example.net': { code: 550, text: 'no such user' } },
    };
    try {
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/quarantine/${item.id}/release`,
        headers: auth(ADMIN),
      });
      expect(res.statusCode).toBe(502);
      expect(res.json()).toMatchObject({ error: 'RELAY_FAILED' });
      expect((await storage.quarantine.get(item.id))?.state).toBe('held');
    } finally {
      sink.behaviour = { kind: 'accept' };
    }
  });

  it('deletes by id and in bulk', async () => {
    const a = await hold(['d1@example.net']);
    const b = await hold(['d2@example.net']);
    expect(
      (await app.inject({ method: 'DELETE', url: `/api/v1/quarantine/${a.id}`, headers: auth(ADMIN) })).json()
        .state,
    ).toBe('deleted');
    const bulk = await app.inject({
      method: 'POST',
      url: '/api/v1/quarantine/delete',
      headers: auth(ADMIN),
      payload: { ids: [a.id, b.id] },
    });
    expect(bulk.json()).toEqual({ deleted: [b.id] });
  });
});

describe('feedback and scan', () => {
  it('takes feedback by the log id of a quarantined message from the quarantine, while it holds it', async () => {
    const held = await hold(['fay@example.net'], `Held for feedback ${randomUUID()}`);
    const fb = await feedback({ messageId: held.messageId, label: 'ham' });
    expect(fb.statusCode).toBe(200);
    expect(fb.json().label).toBe('ham');
    await storage.quarantine.remove([held.id], 'test');
    const gone = await feedback({ messageId: held.messageId, label: 'spam' });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().message).toMatch(/no longer in the quarantine/);
  });

  it('feedback changes the score of the same message on the next scan', async () => {
    const msg = raw('Quarterly figures', 'Please find the quarterly figures attached, regards, Tom');
    const scan = async () =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/scan',
          headers: { ...auth(analystKey), 'content-type': 'message/rfc822' },
          payload: msg,
        })
      ).json().score as number;
    const before = await scan();
    const fb = await feedback({ raw: msg.toString(), label: 'spam' });
    expect(fb.statusCode).toBe(200);
    expect(fb.json().previous).toBeNull();
    expect(await scan()).toBeGreaterThan(before);
  });

  it('the verdict says how much it rests on: known features, features, and the share that counted', async () => {
    const scan = async (msg: Buffer) =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/scan',
          headers: { ...auth(analystKey), 'content-type': 'message/rfc822' },
          payload: msg,
        })
      ).json() as { score: number; evidence: { known: number; features: number; factor: number } };
    const familiar = await scan(
      raw('Re: patch for the kernel build', 'The patch fixes the build on linux, thanks'),
    );
    const unfamiliar = await scan(raw('Zorblax qwintuple', 'Vrexil prandomath skellig yrrwot quenzibar'));
    expect(familiar.evidence.known).toBeGreaterThan(5);
    expect(familiar.evidence.known).toBeLessThanOrEqual(familiar.evidence.features);
    expect(unfamiliar.evidence.factor).toBeLessThan(familiar.evidence.factor);
    // Mail the model knows almost nothing of stays on the ham side of the tag point.
    expect(unfamiliar.score).toBeLessThan(0.5);
  });

  it('feedback by message-log id learns from the kept raw bytes and counts in metrics', async () => {
    const id = crypto.randomUUID();
    const msg = raw('Logged one', 'an ordinary logged message body');
    storage.messages.record(
      logEntry({
        id,
        subject: 'Logged one',
        size: msg.length,
        score: 0.1,
        reason: 'score',
        scanMs: 1,
        totalMs: 2,
        response: '250 ok',
        raw: msg,
      }),
    );
    await storage.messages.flush();
    const res = await feedback({ messageId: id, label: 'ham' });
    expect(res.statusCode).toBe(200);
    const again = await feedback({ messageId: id, label: 'spam' });
    expect(again.json().previous).toBe('ham');
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/mailsentra_feedback_total\{label="ham"\} [1-9]/);
    const unknown = await feedback({ messageId: crypto.randomUUID(), label: 'ham' });
    expect(unknown.statusCode).toBe(404);
  });

  it('names the bad field in a validation error', async () => {
    const res = await feedback({ raw: 'x', label: 'maybe' });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain('label');
  });

  it('refuses a body over api.bodyLimit with 413', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/scan',
      headers: { ...auth(analystKey), 'content-type': 'message/rfc822' },
      payload: Buffer.alloc(8192, 97),
    });
    expect(res.statusCode).toBe(413);
  });
});

describe('keys', () => {
  it('mints a key that works, and revoking it locks it out', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: auth(ADMIN),
      payload: { role: 'analyst' },
    });
    expect(res.statusCode).toBe(201);
    const { key, record } = res.json();
    expect((await app.inject({ method: 'GET', url: '/api/v1/models', headers: auth(key) })).statusCode).toBe(
      200,
    );
    await app.inject({ method: 'DELETE', url: `/api/v1/keys/${record.id}`, headers: auth(ADMIN) });
    expect((await app.inject({ method: 'GET', url: '/api/v1/models', headers: auth(key) })).statusCode).toBe(
      401,
    );
  });
});

describe('operations', () => {
  it('serves health, ready, metrics and the OpenAPI document over real HTTP', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    expect((await fetch(`${address}/health`)).status).toBe(200);
    const ready = await fetch(`${address}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { database: boolean }).database).toBe(true);
    expect(await (await fetch(`${address}/metrics`)).text()).toContain('mailsentra_feedback_total');
    const doc = (await (await fetch(`${address}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/api/v1/quarantine/{id}/release');
  });

  it('documents every field of every API success response (no open objects)', async () => {
    type Schema = {
      type?: string;
      properties?: Record<string, Schema>;
      patternProperties?: Record<string, Schema>;
      /** A map (T.Record): its values are described. */
      additionalProperties?: Schema | boolean;
      nullable?: boolean;
      items?: Schema;
      anyOf?: Schema[];
    };
    type Operation = { responses: Record<string, { content?: Record<string, { schema: Schema }> }> };
    const doc = (await app.inject({ url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, Operation>>;
    };
    /** Where a schema leaves fields undescribed: an object without properties or typed values, at any depth. */
    const open = (s: Schema, at: string): string[] => [
      // `{ type: 'object', nullable: true }` alone is how OpenAPI 3.0 spells a null alternative.
      ...(s.type === 'object' &&
      !s.nullable &&
      !s.properties &&
      !s.patternProperties &&
      typeof s.additionalProperties !== 'object'
        ? [at]
        : []),
      ...Object.entries(s.properties ?? {}).flatMap(([k, v]) => open(v, `${at}.${k}`)),
      ...(s.items ? open(s.items, `${at}[]`) : []),
      ...(s.anyOf ?? []).flatMap((v) => open(v, at)),
    ];
    const checked: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/')) continue;
      for (const [method, op] of Object.entries(methods)) {
        const [status, success] = Object.entries(op.responses).find(([code]) => code.startsWith('2')) ?? [];
        const where = `${method.toUpperCase()} ${path} ${status}`;
        const schemas = Object.values(success?.content ?? {}).map((c) => c.schema);
        expect(schemas.length, where).toBeGreaterThan(0);
        for (const schema of schemas) {
          expect(schema.type ?? schema.anyOf, where).toBeDefined();
          expect(open(schema, where)).toEqual([]);
        }
        checked.push(where);
      }
    }
    expect(checked.length).toBeGreaterThan(15);
  });

  it('blocks a client after api.authFailuresPerMinute failed attempts', async () => {
    const bad = () =>
      app.inject({
        method: 'GET',
        url: '/api/v1/messages',
        headers: auth('wrong'),
        remoteAddress: '10.9.9.9',
      });
    for (let i = 0; i < 5; i++) expect((await bad()).statusCode).toBe(401);
    expect((await bad()).statusCode).toBe(429);
  });
});

describe('models', () => {
  it('trains in the background, then activation (and rollback) switches the model and is audited', async () => {
    const previous = (await app.inject({ method: 'GET', url: '/ready' })).json().model as string;
    // Training is seconds of CPU: on a thread of its own, so this event loop (SMTP, API) keeps answering.
    const stalls = startStallMeter();
    const started = await app.inject({ method: 'POST', url: '/api/v1/models/train', headers: auth(ADMIN) });
    expect(started.statusCode).toBe(202);
    const { jobId } = started.json() as { jobId: string };
    // One job at a time: a second request is pointed at the running one.
    const again = await app.inject({ method: 'POST', url: '/api/v1/models/train', headers: auth(ADMIN) });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: 'CONFLICT', message: expect.stringContaining(jobId) });
    let job = { state: 'running', version: null as string | null };
    for (let i = 0; i < 600 && job.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (
        await app.inject({ method: 'GET', url: `/api/v1/models/jobs/${jobId}`, headers: auth(analystKey) })
      ).json();
    }
    const longestStall = stalls.stop();
    expect(job.state).toBe('done');
    // Run on this thread, the job blocked it for its whole length (~7–10 s; the bound leaves room for a busy
    // machine running other test files). What is left is storing the
    // 4 MB artefact: the embedded PGlite runs in this thread (~0.2–0.4 s; a real Postgres gets it in binary
    // over its socket).
    expect(longestStall).toBeLessThan(2500);
    const listed = (
      await app.inject({ method: 'GET', url: '/api/v1/models', headers: auth(analystKey) })
    ).json() as { version: string }[];
    expect(listed.map((m) => m.version)).toContain(job.version);
    const act = await app.inject({
      method: 'POST',
      url: `/api/v1/models/${job.version}/activate`,
      headers: auth(ADMIN),
    });
    expect(act.json()).toMatchObject({ version: job.version, active: true });
    expect((await app.inject({ method: 'GET', url: '/ready' })).json().model).toBe(job.version);
    const audit = await storage.audit.list(100);
    expect(audit.some((a) => a.action === 'model.activate' && a.target === job.version)).toBe(true);
    expect(audit.some((a) => a.action === 'model.train' && a.target === jobId)).toBe(true);
    expect(previous).toBeTruthy();
  }, 240_000);
  it('refuses a candidate worse than the active version on held-out site feedback, unless forced', async () => {
    // The version in force, stored and active in the registry as a service's start makes it.
    const current = loadDefaultModel();
    const active = current.version;
    if (!(await storage.models.list()).some((m) => m.version === active))
      await storage.models.save({
        version: active,
        trainingSet: 'test',
        evaluation: null,
        artefact: current.serialize(),
      });
    // Through the API, so the service's model in force is this one whatever an earlier test left active.
    const activated = await app.inject({
      method: 'POST',
      url: `/api/v1/models/${active}/activate?force=true`,
      headers: auth(ADMIN),
    });
    expect(activated.statusCode).toBe(200);
    const candidate = deserializeModel(current.serialize()) as LinearModel;
    candidate.version = 'sa-site-check-candidate';
    const figures = (falsePositives: number, falseNegatives: number) => ({
      falsePositives,
      falseNegatives,
      rocAuc: 0.9,
    });
    const evaluation = {
      ...((await storage.models.list()).find((m) => m.version === active)?.evaluation ?? ({} as Evaluation)),
      site: { ham: 6, spam: 6, candidate: figures(2, 1), baseline: { ...figures(0, 1), version: active } },
    };
    await storage.models.save({
      version: candidate.version,
      trainingSet: 'test',
      evaluation,
      artefact: candidate.serialize(),
    });
    const url = `/api/v1/models/${candidate.version}/activate`;
    const refused = await app.inject({ method: 'POST', url, headers: auth(ADMIN) });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/worse than the active .* 12 held-out site reports.*force=true/);
    expect((await app.inject({ method: 'GET', url: '/ready' })).json().model).toBe(active);
    const forced = await app.inject({ method: 'POST', url: `${url}?force=true`, headers: auth(ADMIN) });
    expect(forced.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/ready' })).json().model).toBe(candidate.version);
    // Rolling back to a version without site figures is never refused.
    const back = await app.inject({
      method: 'POST',
      url: `/api/v1/models/${active}/activate`,
      headers: auth(ADMIN),
    });
    expect(back.statusCode).toBe(200);
  }, 120_000);

  it('takes concurrent activations one at a time: each answered, the registry and the model in force agree', async () => {
    const current = loadDefaultModel();
    const versions = ['sa-concurrent-a', 'sa-concurrent-b'];
    for (const version of versions) {
      const copy = deserializeModel(current.serialize()) as LinearModel;
      copy.version = version;
      if (!(await storage.models.list()).some((m) => m.version === version))
        await storage.models.save({
          version,
          trainingSet: 'test',
          evaluation: null,
          artefact: copy.serialize(),
        });
    }
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(
        [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
          app.inject({
            method: 'POST',
            url: `/api/v1/models/${versions[i % 2]}/activate?force=true`,
            headers: auth(ADMIN),
          }),
        ),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
      const registry = (await storage.models.list()).filter((m) => m.active).map((m) => m.version);
      const inForce = (await app.inject({ method: 'GET', url: '/ready' })).json().model;
      expect(registry).toEqual([inForce]);
    }
  }, 120_000);
});
