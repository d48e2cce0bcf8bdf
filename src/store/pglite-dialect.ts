/**
 * Kysely over PGlite: the dialect is Postgres's (adapter, compiler, introspector), the driver sends each
 * compiled query to the one PGlite client (its thread's remote end, or PGlite itself). Written here rather than imported from kysely-pglite,
 * whose entry module also loads a code generator (kysely-codegen and its TypeScript loader): importing it
 * took seconds of every embedded start for nothing the service uses.
 */
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';
import type { PgliteQueryClient } from './pglite-remote.js';

/**
 * PGlite is one Postgres session, and every query goes into it in the order sent. A transaction's BEGIN,
 * statements and COMMIT are separate queries, so a query that another part of the service (the log writer,
 * an API request) sent between them would run inside that transaction; if it failed, it would abort the
 * transaction, whose COMMIT then rolls back without an error, and a quarantine write would answer success
 * for rows that are gone. So while a transaction is open, queries from any other connection wait until it
 * ends; a server gives each connection its own session and needs none of this.
 */
class TransactionGate {
  private owner: PGliteConnection | null = null;
  private waiting: (() => void)[] = [];

  /**
   * True when `connection` may send now. The caller sends its query (or takes the gate) in the same turn as
   * this check: a check in one turn and a send in a later one would let a transaction opened between them
   * take the query in.
   */
  free(connection: PGliteConnection): boolean {
    return this.owner === null || this.owner === connection;
  }

  /** Resolves when the open transaction ends (every waiter is woken then, to check again). */
  ended(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  async open(connection: PGliteConnection): Promise<void> {
    // Checked and taken in one turn, so the first waiter to run owns the gate before the next one checks.
    while (!this.free(connection)) await this.ended();
    this.owner = connection;
  }

  close(connection: PGliteConnection): void {
    if (this.owner !== connection) return;
    this.owner = null;
    for (const wake of this.waiting.splice(0)) wake();
  }
}

class PGliteConnection implements DatabaseConnection {
  constructor(
    private readonly client: PgliteQueryClient,
    private readonly gate: TransactionGate,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Re-checked after each wait, and the query sent in the turn the check passed (query() posts at once).
    while (!this.gate.free(this)) await this.gate.ended();
    const result = await this.client.query<R>(query.sql, [...query.parameters]);
    return {
      rows: result.rows,
      ...(result.affectedRows === undefined ? {} : { numAffectedRows: BigInt(result.affectedRows) }),
    };
  }

  // biome-ignore lint/correctness/useYield: PGlite has no cursors to stream from; the method must exist.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite does not support streaming');
  }
}

class PGliteDriver implements Driver {
  private readonly gate = new TransactionGate();
  constructor(private readonly client: PgliteQueryClient) {}
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.client, this.gate);
  }
  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const own = connection as PGliteConnection;
    await this.gate.open(own);
    try {
      await connection.executeQuery(CompiledQuery.raw('BEGIN'));
    } catch (err) {
      this.gate.close(own);
      throw err;
    }
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('COMMIT'));
    } finally {
      this.gate.close(connection as PGliteConnection);
    }
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('ROLLBACK'));
    } finally {
      this.gate.close(connection as PGliteConnection);
    }
  }
  async releaseConnection(): Promise<void> {}
  async destroy(): Promise<void> {
    if (!this.client.closed) await this.client.close();
  }
}

export function pgliteDialect(client: PgliteQueryClient): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new PGliteDriver(client),
    // biome-ignore lint/suspicious/noExplicitAny: Kysely's introspector takes a Kysely of any schema.
    createIntrospector: (db: Kysely<any>) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
