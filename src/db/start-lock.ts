import { sql } from "drizzle-orm";
import type { Db } from "./connect.ts";
import { rows } from "./rows.ts";

/**
 * A periodic job's guarded start: runs `start` in a transaction that holds advisory lock `key`,
 * or returns null at once when another worker's start holds it. The lock is taken in a statement
 * of its own: `start`'s check then runs with a snapshot taken after the other start committed (a
 * lock taken within the check's own statement would not be: its snapshot predates the wait), so
 * two starts cannot both pass it.
 */
export function underStartLock<T>(
  db: Db,
  key: number,
  start: (tx: Db) => Promise<T | null>,
): Promise<T | null> {
  return db.transaction(async (tx) => {
    const [lock] = await rows<{ got: boolean }>(
      tx,
      sql`select pg_try_advisory_xact_lock(${key}) as got`,
    );
    if (!lock?.got) return null;
    return start(tx);
  });
}
