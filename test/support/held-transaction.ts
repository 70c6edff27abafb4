import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";

/** A transaction kept open after its work, until the test commits it. */
export interface HeldTransaction<T> {
  /** Lets the transaction commit. */
  commit: () => void;
  /** What its work returned, once committed (or its error). */
  committed: Promise<T>;
}

/**
 * Runs `work` in a transaction on one connection of `db` (Postgres), and keeps that transaction
 * open, locks held, until `commit()`: how a test interleaves two statements by hand. Resolves
 * once `work` is done.
 */
export async function heldTransaction<T>(
  db: Db,
  work: (tx: Db) => Promise<T>,
): Promise<HeldTransaction<T>> {
  let commit = () => {};
  const held = new Promise<void>((resolve) => {
    commit = resolve;
  });
  let done = () => {};
  const worked = new Promise<void>((resolve) => {
    done = resolve;
  });
  const committed = db.transaction(async (tx) => {
    const out = await work(tx);
    done();
    await held;
    return out;
  });
  await Promise.race([worked, committed]);
  return { commit, committed };
}

/**
 * Resolves true once a session of this database (other than the one asking) waits on a lock
 * while `waiting` is still unsettled (Postgres's pg_stat_activity, polled): proof that the
 * statement behind `waiting` is blocked by a held transaction, not merely slow. False when
 * `waiting` settles first, or when no lock wait shows within `timeoutMs`.
 */
export async function waitsOnLock(
  db: Db,
  waiting: Promise<unknown>,
  timeoutMs = 10_000,
): Promise<boolean> {
  let settled = false;
  waiting.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const deadline = Date.now() + timeoutMs;
  while (!settled && Date.now() < deadline) {
    const [row] = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid()
             and wait_event_type = 'Lock'`,
    );
    // `settled` as it is after the query: a statement that finished meanwhile was not blocked.
    if ((row?.n ?? 0) > 0) return !settled;
    await sleep(25);
  }
  return false;
}
