/**
 * Model versions in the database: artefacts, evaluation figures, and which one is active (a partial unique
 * index allows at most one). Training runs under a Postgres advisory lock so only one instance trains at a
 * time; an in-process flag covers PGlite, whose single connection would re-enter the lock.
 */
import { type Selectable, sql } from 'kysely';
import { ModelNotFoundError } from '../errors.js';
import type { Db } from './db.js';
import type { ModelsTable } from './schema.js';
import { parseJson } from './text.js';
import type { ModelRecord, ModelStore } from './types.js';

/** Arbitrary, fixed: the advisory-lock key for "a model is being trained". */
const TRAINING_LOCK = 0x6d73_7472; // "mstr"
/** The transaction-level advisory-lock key for "the active version is being switched". */
const ACTIVATE_LOCK = 0x6d73_6163; // "msac"

type Row = Omit<Selectable<ModelsTable>, 'artefact'>;

function toRecord(r: Row): ModelRecord {
  return {
    version: r.version,
    createdAt: new Date(r.created_at),
    trainingSet: r.training_set,
    evaluation: parseJson(r.evaluation),
    active: r.active,
    sizeBytes: r.size_bytes,
  };
}

const COLUMNS = ['version', 'created_at', 'training_set', 'evaluation', 'active', 'size_bytes'] as const;

export function createModelStore(db: Db): ModelStore {
  let trainingHere = false;
  return {
    async save(record) {
      const row = await db
        .insertInto('models')
        .values({
          version: record.version,
          created_at: record.createdAt ?? new Date(),
          training_set: record.trainingSet,
          evaluation: JSON.stringify(record.evaluation),
          artefact: record.artefact,
          size_bytes: record.artefact.length,
        })
        .onConflict((oc) => oc.column('version').doNothing())
        .returning(COLUMNS)
        .executeTakeFirst();
      if (row) return toRecord(row);
      const existing = await db
        .selectFrom('models')
        .select(COLUMNS)
        .where('version', '=', record.version)
        .executeTakeFirstOrThrow();
      return toRecord(existing);
    },
    async list() {
      const rows = await db.selectFrom('models').select(COLUMNS).orderBy('created_at', 'desc').execute();
      return rows.map((r) => toRecord(r));
    },
    async get(version) {
      const row = await db
        .selectFrom('models')
        .select(COLUMNS)
        .where('version', '=', version)
        .executeTakeFirst();
      return row ? toRecord(row) : null;
    },
    async getArtefact(version) {
      const row = await db
        .selectFrom('models')
        .select('artefact')
        .where('version', '=', version)
        .executeTakeFirst();
      return row ? Buffer.from(row.artefact) : null;
    },
    async getActive() {
      const row = await db.selectFrom('models').select(COLUMNS).where('active', '=', true).executeTakeFirst();
      return row ? toRecord(row) : null;
    },
    async activate(version) {
      return db.transaction().execute(async (trx) => {
        // Two instances switching at once would both clear the flag and then both set theirs: the second
        // set breaks the one-active index (an error instead of an activation). One switch at a time.
        await sql`select pg_advisory_xact_lock(${ACTIVATE_LOCK})`.execute(trx);
        const exists = await trx
          .selectFrom('models')
          .select('version')
          .where('version', '=', version)
          .executeTakeFirst();
        if (!exists) throw new ModelNotFoundError(version);
        await trx
          .updateTable('models')
          .set({ active: false })
          .where('active', '=', true)
          .where('version', '!=', version)
          .execute();
        const row = await trx
          .updateTable('models')
          .set({ active: true })
          .where('version', '=', version)
          .returning(COLUMNS)
          .executeTakeFirstOrThrow();
        return toRecord(row);
      });
    },
    async withTrainingLock(fn) {
      if (trainingHere) return null;
      trainingHere = true;
      try {
        // Session-level advisory locks belong to one connection: hold one for the whole run.
        return await db.connection().execute(async (conn) => {
          const { rows } = await sql<{
            locked: boolean;
          }>`select pg_try_advisory_lock(${TRAINING_LOCK}) as locked`.execute(conn);
          if (!rows[0]?.locked) return null;
          try {
            return await fn();
          } finally {
            await sql`select pg_advisory_unlock(${TRAINING_LOCK})`.execute(conn);
          }
        });
      } finally {
        trainingHere = false;
      }
    },
  };
}
