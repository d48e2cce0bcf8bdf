/**
 * A fresh, empty database on the Postgres of DATABASE_URL for one benchmark run, dropped afterwards: the
 * service then runs the current default model and an empty verdict log, not whatever an earlier run left
 * active in that database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export async function freshBenchDatabase(
  base = process.env.DATABASE_URL,
): Promise<{ url: string; drop(): Promise<void> } | null> {
  if (!base) return null;
  const name = `mailsentra_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
