/**
 * The control socket's own guarantees: only the service's user can reach it (mode 0600, never in a
 * directory others may write to), a request it does not know gets an error line and the connection goes on,
 * and a key minted through it is one the store accepts.
 */
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectControl } from '../../src/control/client.js';
import { type ControlServer, startControlServer } from '../../src/control/server.js';
import { silentLogger } from '../../src/observability/log.js';
import type { OpenedStorage } from '../../src/store/index.js';
import { openTestStorage } from '../helpers/db.js';

describe('control socket', () => {
  let storage: OpenedStorage;
  let server: ControlServer | null;
  const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-control-'));
  const socketPath = path.join(dir, 'mailsentra.sock');
  const activated: string[] = [];

  beforeAll(async () => {
    storage = await openTestStorage(null);
    server = await startControlServer({
      socketPath,
      logger: silentLogger(),
      storage,
      activate: async (version) => {
        activated.push(version);
      },
      refreshMirror: async () => ({ version: 'mirrored' }),
    });
  }, 200_000);
  afterAll(async () => {
    await server?.close();
    await storage?.close();
  });

  it('is a socket only its owner may use', () => {
    expect(server).not.toBeNull();
    const st = statSync(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('mints a key the store accepts, and answers an unknown request with an error line', async () => {
    const client = await connectControl(socketPath);
    expect(client).not.toBeNull();
    const { key } = await client!.call('apikey.create', { role: 'analyst', label: 'through the socket' });
    expect((await storage.keys.verify(key))?.role).toBe('analyst');
    // A raw unknown request on the same kind of connection: an error line, not a dropped connection.
    const answer = await new Promise<string>((resolve) => {
      const s = net.connect(socketPath, () => s.write('{"op":"drop.tables","args":{}}\nnot json\n'));
      let text = '';
      s.on('data', (d) => {
        text += d.toString();
        if (text.split('\n').length > 2) {
          s.destroy();
          resolve(text);
        }
      });
    });
    const lines = answer
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { ok: boolean; error: string });
    expect(lines.map((l) => [l.ok, l.error])).toEqual([
      [false, 'BAD_REQUEST'],
      [false, 'BAD_REQUEST'],
    ]);
    // The first connection still works.
    expect((await client!.call('migrate', {})).applied).toEqual([]);
    client!.close();
  });

  it('holds the training lock for as long as the connection is open', async () => {
    const first = await connectControl(socketPath);
    const second = await connectControl(socketPath);
    expect((await first!.call('train.lock', {})).locked).toBe(true);
    expect((await second!.call('train.lock', {})).locked).toBe(false);
    first!.close();
    await expect.poll(async () => (await second!.call('train.lock', {})).locked).toBe(true);
    second!.close();
  });

  it('is not opened in a directory others may write to', async () => {
    const open = mkdtempSync(path.join(tmpdir(), 'mailsentra-control-open-'));
    chmodSync(open, 0o777);
    const refused = await startControlServer({
      socketPath: path.join(open, 'mailsentra.sock'),
      logger: silentLogger(),
      storage,
      activate: async () => {},
      refreshMirror: async () => ({ version: 'mirrored' }),
    });
    expect(refused).toBeNull();
  });
});
