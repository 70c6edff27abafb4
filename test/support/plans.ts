import { type SQL, sql } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { toText } from "../../src/db/sql-client.ts";

/**
 * The plan of a statement as JSON text: "custom", planned for its values (what EXPLAIN shows);
 * "generic", as a prepared statement's plan is once reused, planned for no value in particular
 * (the hot statements are prepared: src/db/prepared.ts). One connection throughout.
 */
export async function planOf(database: Database, statement: SQL, mode: "custom" | "generic") {
  if (mode === "custom") {
    const plan = await rows(database.db, sql`explain (format json) ${statement}`);
    return JSON.stringify(plan);
  }
  const { sql: text, params } = new PgDialect().sqlToQuery(statement);
  return database.withAdvisoryLock(4_242, async (db) => {
    await rows(db, sql.raw(`prepare plan_probe as ${text}`));
    try {
      await rows(db, sql.raw("set plan_cache_mode = force_generic_plan"));
      const plan = await rows(
        db,
        // (No parentheses for a statement without parameters: `execute p()` is a syntax error.)
        sql.raw(`explain (format json) execute plan_probe${executeArguments(params)}`),
      );
      return JSON.stringify(plan);
    } finally {
      await rows(db, sql.raw("reset plan_cache_mode"));
      await rows(db, sql.raw("deallocate plan_probe"));
    }
  });
}

/** Every plan node that reads `relation` by a sequential scan. */
export function seqScansOf(plan: string, relation: string): unknown[] {
  const found: unknown[] = [];
  const walk = (node: unknown) => {
    if (node === null || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    if (n["Node Type"] === "Seq Scan" && n["Relation Name"] === relation) found.push(n);
    for (const v of Object.values(n)) walk(v);
  };
  walk(JSON.parse(plan));
  return found;
}

/**
 * The plan that a statement prepared as `name` on this connection (preparedRows) would run with
 * now, from the connection's plan cache: EXPLAIN EXECUTE, with the statement's values. `db` must
 * be one connection (withAdvisoryLock's handle, or PGlite's).
 */
export async function cachedPlanOf(
  db: Database["db"],
  name: string,
  statement: SQL,
): Promise<string> {
  const { params } = new PgDialect().sqlToQuery(statement);
  const plan = await rows(
    db,
    sql.raw(`explain (format json) execute ${name}${executeArguments(params)}`),
  );
  return JSON.stringify(plan);
}

/**
 * The argument list of an SQL-level EXECUTE: each value as the driver would send it (toText),
 * quoted as an SQL literal; nothing for a statement without parameters (`execute p()` is a
 * syntax error).
 */
export function executeArguments(values: readonly unknown[]): string {
  const literal = (v: unknown) => {
    const text = toText(v);
    return text === null ? "null" : `'${text.replace(/'/g, "''")}'`;
  };
  return values.length > 0 ? `(${values.map(literal).join(", ")})` : "";
}
