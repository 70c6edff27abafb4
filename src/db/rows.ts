import type { SQL } from "drizzle-orm";
import type { Db } from "./connect.ts";

/**
 * Runs raw SQL and returns its rows. pg and PGlite both answer `{ rows }`; the generic Drizzle
 * handle types that as unknown, so the shape is asserted here, once.
 * Raw rows skip Drizzle's column mapping: cast in SQL (`::int`, `::text`) what must be exact.
 */
export async function rows<T extends Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}
