/**
 * The embedded database's thread, through its remote end: what a structured clone would lose comes back as
 * the in-process client gave it (bytea as Buffer, Postgres's error fields), and a closed client refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRowError } from '../../src/store/message-insert.js';
import { type PgliteQueryClient, startPgliteThread } from '../../src/store/pglite-remote.js';

describe('PGlite in its own thread', () => {
  let client: PgliteQueryClient;
  beforeAll(async () => {
    client = await startPgliteThread('memory://', null);
  });
  afterAll(async () => {
    await client.close();
  });

  it('returns bytea as a Buffer and takes one as a parameter', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const { rows } = await client.query<{ b: Buffer; n: number }>('select $1::bytea as b, 7 as n', [bytes]);
    expect(Buffer.isBuffer(rows[0]?.b)).toBe(true);
    expect(rows[0]?.b.equals(bytes)).toBe(true);
    expect(rows[0]?.n).toBe(7);
  });

  it('takes bytea parameters as their bytes: every byte value, a view into a larger buffer, an empty one', async () => {
    const every = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    // A view whose offset is not 0: its own bytes go, not the whole underlying buffer.
    const view = Buffer.concat([Buffer.from('before'), every, Buffer.from('after')]).subarray(6, 6 + 4096);
    const { rows } = await client.query<{ a: Buffer; b: Buffer; c: Buffer; n: number }>(
      'select $1::bytea as a, $2::bytea as b, $3::bytea as c, length($2::bytea) as n',
      [every, view, Buffer.alloc(0)],
    );
    expect(rows[0]?.a.equals(every)).toBe(true);
    expect(rows[0]?.b.equals(every)).toBe(true);
    expect(rows[0]?.n).toBe(4096);
    expect(rows[0]?.c.length).toBe(0);
  });

  it('rejects with the SQLSTATE and detail, so a row error is told from an outage', async () => {
    await client.query('create table t (id int primary key)');
    await client.query('insert into t values (1)');
    const err = await client.query('insert into t values (1)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('23505');
    expect((err as { detail?: string }).detail).toMatch(/already exists/);
    expect(isRowError(err)).toBe(true);
    // The connection is still usable after a failed statement.
    expect((await client.query<{ n: number }>('select count(*)::int as n from t')).rows[0]?.n).toBe(1);
  });

  it('answers queries in the order sent while many are outstanding', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.query<{ i: number }>('select $1::int as i', [i])),
    );
    expect(answers.map((a) => a.rows[0]?.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('refuses a query once closed, instead of waiting forever', async () => {
    const other = await startPgliteThread('memory://', null);
    await other.close();
    expect(other.closed).toBe(true);
    await expect(other.query('select 1')).rejects.toThrow(/thread stopped/);
  });
});
