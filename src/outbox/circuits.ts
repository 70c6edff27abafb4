import { and, eq, lte, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { type ReporterCircuit, reporterCircuits } from "../db/schema/reporter-circuits.ts";

/**
 * Opens a circuit (or keeps it open). A second worker hitting the same cause changes nothing:
 * the first reason, opener and probe schedule stay, so the probe interval is not reset by every
 * worker that notices. The first probe is due one interval from now.
 */
export async function openCircuit(
  db: Db,
  c: { scope: string; reason: string; owner: string; probeMs: number },
): Promise<void> {
  await db
    .insert(reporterCircuits)
    .values({
      scope: c.scope,
      reason: c.reason,
      openedBy: c.owner,
      nextProbeAt: sql`now() + ${c.probeMs}::float8 * interval '1 millisecond'`,
    })
    .onConflictDoNothing({ target: reporterCircuits.scope });
}

/** Every open circuit: a handful of rows at most, read by every worker once per poll. */
export async function readCircuits(db: Db): Promise<ReporterCircuit[]> {
  return db.select().from(reporterCircuits).orderBy(reporterCircuits.openedAt);
}

/**
 * Takes the probe of a circuit if it is due, for one worker: the guarded UPDATE moves
 * next_probe_at forward, so among all workers on all hosts exactly one wins each interval.
 */
export async function takeProbe(
  db: Db,
  scope: string,
  owner: string,
  probeMs: number,
): Promise<boolean> {
  const taken = await db
    .update(reporterCircuits)
    .set({
      probeOwner: owner,
      nextProbeAt: sql`now() + ${probeMs}::float8 * interval '1 millisecond'`,
    })
    .where(and(eq(reporterCircuits.scope, scope), lte(reporterCircuits.nextProbeAt, sql`now()`)))
    .returning({ scope: reporterCircuits.scope });
  return taken.length > 0;
}

/** Closes a circuit after a probe went through: every worker resumes at its next poll. */
export async function closeCircuit(db: Db, scope: string): Promise<void> {
  await db.delete(reporterCircuits).where(eq(reporterCircuits.scope, scope));
}
