import { afterAll, describe, expect, it } from 'vitest';
import type { AuthRecord } from '../../src/auth/types.js';
import { type Backend, backends, freshDatabaseUrl, openTestStorage } from '../helpers/db.js';
import { logEntry } from '../helpers/log-entry.js';

const record: AuthRecord = {
  spf: 'fail',
  dkim: 'none',
  dmarc: 'fail',
  arc: 'none',
  dmarcPolicy: 'reject',
  fromDomain: 'bank.example',
  signals: [{ name: 'dmarc-fail-reject', description: 'DMARC fail for bank.example (p=reject)' }],
};

const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops) await drop();
});

describe.each(backends)('the verdict log keeps the authentication record (%s)', (backend: Backend) => {
  // Opening an embedded database takes tens of seconds on a loaded machine.
  it('writes it, reads it back, and keeps null for a message not verified', {
    timeout: 180_000,
  }, async () => {
    const db = backend === 'postgres' ? await freshDatabaseUrl() : null;
    if (db) drops.push(db.drop);
    const storage = await openTestStorage(db?.url ?? null);
    try {
      const verified = logEntry({ auth: record });
      const unverified = logEntry();
      storage.messages.record(verified);
      storage.messages.record(unverified);
      await storage.messages.flush();
      expect((await storage.messages.get(verified.id))?.auth).toEqual(record);
      expect((await storage.messages.get(unverified.id))?.auth).toBeNull();
      const page = await storage.messages.list({ limit: 10 });
      expect(page.items.find((m) => m.id === verified.id)?.auth).toEqual(record);
    } finally {
      await storage.close();
    }
  });
});
