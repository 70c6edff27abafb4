import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";

/** Events by status right now. */
export interface StatusCounts {
  /** Not yet final (waiting, leased or due). */
  pending: number;
  /** Delivered to Stripe. */
  reported: number;
  /** Dead-lettered. */
  failed: number;
  /** Discarded by an operator (none in a chaos run). */
  discarded: number;
}

/** How often the queue is looked at: cheap (one grouped count), and fine-grained enough. */
const POLL_MS = 500;

/** Counts events by status, in one statement. */
export async function statusCounts(db: Db): Promise<StatusCounts> {
  const counts = await rows<{ status: string; n: number }>(
    db,
    sql`select status, count(*)::int as n from usage_events group by status`,
  );
  const by = new Map(counts.map((c) => [c.status, c.n]));
  return {
    pending: by.get("pending") ?? 0,
    reported: by.get("reported") ?? 0,
    failed: by.get("failed") ?? 0,
    discarded: by.get("discarded") ?? 0,
  };
}

/** When to stop waiting for a drain. */
export interface DrainOptions {
  /** Give up at this time (ms since epoch). */
  deadlineMs: number;
  /** Another condition that must hold too (e.g. the key revocation is over). */
  alsoDone?: () => boolean;
  /** Stops the wait early (Ctrl-C). */
  signal?: AbortSignal;
  /** Called with every look at the queue. */
  onTick?: (counts: StatusCounts) => void;
}

/**
 * Waits until no event is pending (every event reported, failed or discarded) and `alsoDone`
 * holds. Resolves true when drained, false at the deadline or on abort.
 */
export async function waitForDrain(db: Db, options: DrainOptions): Promise<boolean> {
  for (;;) {
    const counts = await statusCounts(db);
    options.onTick?.(counts);
    if (counts.pending === 0 && (options.alsoDone?.() ?? true)) return true;
    if (Date.now() >= options.deadlineMs || options.signal?.aborted) return false;
    await sleep(POLL_MS);
  }
}
