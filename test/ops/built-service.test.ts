/**
 * The build that `npm start` runs: the service bundled into dist/bundle/ (one entry per thread and the
 * chunks they share, see scripts/bundle.mjs). Built by `npm ci` (the prepare script) or `npm run build`.
 * Checks what bundling can break and the sources under test cannot show: each thread's entry is found
 * beside the bundle (the scoring workers on the SMTP path, the training thread behind POST /models/train),
 * the default model is found at the package root, and the command line runs once per process, never again
 * inside a worker thread.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService } from '../helpers/child-service.js';
import { runCliChild } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { ordinaryMail } from '../helpers/mail.js';
import { type Sink, startSink } from '../helpers/sink.js';
import { send } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = path.join(root, 'dist/bundle/cli.js');

describe('the bundled build (npm start)', () => {
  let sink: Sink;
  let service: ChildService;
  let dataDir: string;

  beforeAll(async () => {
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build (npm ci runs it)`);
    sink = await startSink();
    dataDir = mkdtempSync(path.join(tmpdir(), 'mailsentra-built-'));
    service = await startChildService({
      smtpPort: await freePort(),
      apiPort: await freePort(),
      relayPort: sink.port,
      databaseUrl: null,
      dataDir,
      entry: 'built',
      timeoutMs: 120_000,
    });
  }, 150_000);

  afterAll(async () => {
    service?.proc.kill('SIGTERM');
    await service?.exited;
    await sink?.close();
  });

  it('is ready, scores a message on its workers and relays it', async () => {
    // SMTP listens first; the API follows within the same start.
    await waitFor('the LISTENING line', () => service.output().includes('"event":"LISTENING"'), {
      timeoutMs: 30_000,
    });
    const ready = await fetch(`http://127.0.0.1:${service.apiPort}/ready`);
    expect(ready.status).toBe(200);
    const r = await send(service.smtpPort, { from: 'a@example.org', to: ['b@example.org'] }, ordinaryMail());
    expect(r.code).toBe(250);
    await waitFor('the relayed message', () => sink.messages.length === 1);
    const relayed = sink.messages[0]?.raw.toString('latin1') ?? '';
    expect(relayed).toMatch(/^X-Spam-Score: /m);
    // Verified by mailauth, a chunk of its own loaded with the first message (an unsigned message: none,
    // where a verifier that could not run says temperror).
    expect(relayed).toMatch(/^Authentication-Results: (?:.|\r\n)*dkim=none/m);
    expect(service.output()).toContain('"event":"STARTUP"');
  });

  it('serves the OpenAPI document and its viewer', async () => {
    const base = `http://127.0.0.1:${service.apiPort}/docs`;
    const json = await fetch(`${base}/json`);
    expect(json.status).toBe(200);
    expect(((await json.json()) as { openapi: string }).openapi).toBe('3.0.3');
    const yaml = await fetch(`${base}/yaml`);
    expect(yaml.status).toBe(200);
    expect(await yaml.text()).toMatch(/^openapi: 3\.0\.3$/m);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const init = await (await fetch(`${base}/static/swagger-initializer.js`)).text();
    expect(init).toContain('data:image/svg+xml;base64,');
  });

  it('trains on its own thread', async () => {
    const created = await runCliChild(['apikey', 'create', '--role', 'admin'], {
      DATA_DIR: dataDir,
      DATABASE_URL: '',
    });
    expect(created.code, created.stderr).toBe(0);
    const key = /ms_[A-Za-z0-9_-]+/.exec(created.stdout)?.[0] ?? '';
    const api = `http://127.0.0.1:${service.apiPort}/api/v1`;
    const headers = { authorization: `Bearer ${key}` };
    const started = await fetch(`${api}/models/train`, { method: 'POST', headers });
    expect(started.status, `key from: ${created.stdout}`).toBe(202);
    const { jobId } = (await started.json()) as { jobId: string };
    const job = await waitFor(
      'the training job',
      async () => {
        const j = (await (await fetch(`${api}/models/jobs/${jobId}`, { headers })).json()) as {
          state: string;
          error: string | null;
        };
        return j.state !== 'running' && j;
      },
      { timeoutMs: 150_000, intervalMs: 500 },
    );
    expect(job).toMatchObject({ state: 'done', error: null });
    // One service: the command line did not start again inside the training thread.
    expect(service.output().match(/"event":"LISTENING"/g)).toHaveLength(1);
  }, 180_000);
});
