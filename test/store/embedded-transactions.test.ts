/**
 * Transactions on the embedded store. PGlite is one Postgres session: a query sent by another part of the
 * service between a transaction's BEGIN and COMMIT would run inside it, and if it failed, the COMMIT would
 * roll back without an error. A quarantine write must never answer success for rows that are not there.
 */
import { randomUUID } from 'node:crypto';
import { type KyselyPlugin, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createQuarantineStore } from '../../src/store/quarantine.js';
import { storageOn } from '../helpers/db.js';

describe('transactions on the embedded store', () => {
  const opened = storageOn('pglite');

  const item = (messageId: string) => ({
    messageId,
    mailFrom: 'spammer@example.com',
    recipients: ['carol@example.net', 'dave@example.net'],
    subject: 'offer',
    headerFrom: null,
    score: 0.99,
    reason: 'score',
    raw: Buffer.from('Subject: offer\r\n\r\nbuy\r\n'),
    expiresAt: new Date(Date.now() + 86_400_000),
  });

  /**
   * A quarantine store whose write, once its last insert has answered and before its COMMIT, lets another
   * part of the service send a query and gives it time to run.
   */
  function storeWithIntruder(intruder: () => Promise<unknown>) {
    const outcome: Promise<unknown>[] = [];
    let last = false;
    const plugin: KyselyPlugin = {
      transformQuery: ({ node }) => {
        last = node.kind === 'InsertQueryNode' && node.into?.table.identifier.name === 'quarantine';
        return node;
      },
      transformResult: async ({ result }) => {
        if (last) {
          last = false;
          outcome.push(
            intruder().then(
              () => 'ok',
              (e: Error) => e.message,
            ),
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return result;
      },
    };
    return { store: createQuarantineStore(opened.storage.db.withPlugin(plugin), () => {}), outcome };
  }

  const stored = async (messageId: string) =>
    (
      await sql<{
        n: number;
      }>`select count(*)::int as n from quarantine where message_id = ${messageId}`.execute(opened.storage.db)
    ).rows[0]?.n;

  it('keeps a failing query of another part out of a quarantine write', async () => {
    const { store, outcome } = storeWithIntruder(() => sql`select 1 / 0`.execute(opened.storage.db));
    const id = randomUUID();
    const held = await store.hold(item(id));
    expect(held).toHaveLength(2);
    // The other query ran after the COMMIT, alone, and failed alone.
    expect(await outcome[0]).toBe('division by zero');
    expect(await stored(id)).toBe(2);
  });
});
