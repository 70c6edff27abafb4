import { setTimeout as sleep } from "node:timers/promises";
import type { Db } from "../../src/db/connect.ts";

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

/** True when `promise` is still unsettled after `ms`: a statement waiting on a lock. */
export async function stillWaiting(promise: Promise<unknown>, ms = 300): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await sleep(ms);
  return !settled;
}
