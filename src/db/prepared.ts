import type { SQL } from "drizzle-orm";
import { PgDialect, PgTransaction } from "drizzle-orm/pg-core";
import type { Db } from "./connect.ts";
import { rows } from "./rows.ts";
import { sqlClient } from "./sql-client.ts";

// Compiles Drizzle's SQL objects to text and parameters, as db.execute would.
const dialect = new PgDialect();

// The text each name was first prepared with: one name, one text, always.
const texts = new Map<string, string>();

/**
 * Runs a Drizzle `sql` statement as a NAMED prepared statement and returns its rows, for the
 * reporter's hot statements (claim, mark-sent, settle). db.execute sends each one unnamed, so
 * Postgres parses and plans it on every call: for mark-sent that was ~0.45 ms of the server's
 * CPU per statement against ~0.12 ms prepared (and ~0.35 against ~0.14 ms of this process).
 * Each pooled connection (or the PGlite instance) prepares a name once.
 *
 * The statement's TEXT must be the same on every call (values go as parameters): a name met
 * with another text throws at once, so that a query built differently per call can never run
 * under a plan prepared for another. Raw rows, as rows() returns them: cast in SQL what must be
 * exact, and normalise timestamps (`new Date(...)`) as both drivers may differ.
 * Given a transaction's handle it runs inside that transaction, unprepared: the driver's own
 * prepared path would run on another pooled connection (or wait for PGlite's one), outside it.
 */
export async function preparedRows<T extends Record<string, unknown>>(
  db: Db,
  name: string,
  query: SQL,
): Promise<T[]> {
  // (instanceof narrows away the schema's type; the handle is the same one.)
  const inTransaction: boolean = db instanceof PgTransaction;
  if (inTransaction) return rows<T>(db, query);
  const { sql: text, params } = dialect.sqlToQuery(query);
  const known = texts.get(name);
  if (known === undefined) texts.set(name, text);
  else if (known !== text) {
    throw new Error(`prepared statement ${name}: the text differs from its first use`);
  }
  return sqlClient(db).query<T>(name, text, params);
}
