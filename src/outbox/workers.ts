import { and, desc, eq, getTableColumns, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { type WorkerRow, workers } from "../db/schema/workers.ts";

/**
 * Leases without a heartbeat after which a worker counts as gone. Its heartbeat runs every third
 * of a lease, so two leases is six missed beats: a long GC pause or a slow database does not
 * bury a live worker, and a killed one is declared gone within seconds. Readiness, the workers
 * list, trace and the claim path all judge by this one rule.
 */
export const WORKER_GONE_AFTER_LEASES = 2;

/** How long a worker with this lease may go unseen and still count as alive. */
export function workerGoneAfterMs(leaseMs: number): number {
  return leaseMs * WORKER_GONE_AFTER_LEASES;
}

/** A worker row, and whether it is alive now (by the database's clock). */
export interface WorkerView extends WorkerRow {
  alive: boolean;
}

/**
 * Alive: not stopped, and seen within `liveWithinMs` — both judged by the DATABASE's clock,
 * which wrote last_seen_at, so readers and workers on hosts with skewed clocks agree.
 */
function aliveSql(liveWithinMs: number) {
  return sql<boolean>`(${workers.stoppedAt} is null and ${workers.lastSeenAt} > now() - ${liveWithinMs}::float8 * interval '1 millisecond')`;
}

/**
 * Whether a worker other than `owner` is alive now (aliveSql), as a condition for a statement of
 * outbox/ (the claim: a worker alone marks no pair, outbox/claim.ts). Read through
 * workers_last_seen_idx: rows are never deleted, and only the recent ones can be alive. Newest
 * heartbeat first, one row, rather than EXISTS: the claim is a prepared statement, and its
 * generic plan, which knows no value of the time bound, read EXISTS as a scan of every row; an
 * ORDER BY … LIMIT 1 on the indexed column is read from the index's end under either plan.
 */
export function otherWorkerAliveSql(owner: string, leaseMs: number): SQL {
  return sql`(select true from ${workers}
                where ${workers.id} <> ${owner} and ${aliveSql(workerGoneAfterMs(leaseMs))}
                order by ${workers.lastSeenAt} desc limit 1) is not null`;
}

/**
 * Registers a worker at start. Upsert: a worker restarted under the same id (METERLINE_WORKER_ID)
 * is a new life, so it gets a fresh started_at and is no longer stopped.
 */
export async function registerWorker(
  db: Db,
  w: { id: string; host: string; pid: number },
): Promise<void> {
  await db
    .insert(workers)
    .values({ id: w.id, host: w.host, pid: w.pid })
    .onConflictDoUpdate({
      target: workers.id,
      set: {
        host: w.host,
        pid: w.pid,
        startedAt: sql`now()`,
        lastSeenAt: sql`now()`,
        inFlight: 0,
        stoppedAt: null,
      },
    });
}

/**
 * A heartbeat: the worker is alive, with this many requests in flight. A stopped row is left
 * alone, so a beat that was already under way when the worker stopped cannot bring it back.
 */
export async function beat(db: Db, id: string, inFlight: number): Promise<void> {
  await db
    .update(workers)
    .set({ lastSeenAt: sql`now()`, inFlight })
    .where(and(eq(workers.id, id), isNull(workers.stoppedAt)));
}

/** An orderly stop: gone at once, without waiting for the heartbeat to age out. */
export async function stopWorker(db: Db, id: string): Promise<void> {
  await db.update(workers).set({ stoppedAt: sql`now()`, inFlight: 0 }).where(eq(workers.id, id));
}

/** Every worker row, alive ones first, then the most recently seen. */
export async function listWorkers(db: Db, liveWithinMs: number): Promise<WorkerView[]> {
  const alive = aliveSql(liveWithinMs);
  return db
    .select({ ...getTableColumns(workers), alive })
    .from(workers)
    .orderBy(desc(alive), desc(workers.lastSeenAt), workers.id);
}

/** The workers alive now, with their requests in flight at their last heartbeat (metrics). */
export async function liveWorkers(
  db: Db,
  liveWithinMs: number,
): Promise<Array<{ id: string; inFlight: number }>> {
  return db
    .select({ id: workers.id, inFlight: workers.inFlight })
    .from(workers)
    .where(aliveSql(liveWithinMs))
    .orderBy(workers.id);
}

/** How many workers are alive now (readiness shows it on every probe, through a cache). */
export async function liveWorkerCount(db: Db, liveWithinMs: number): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(workers)
    .where(aliveSql(liveWithinMs));
  return row?.n ?? 0;
}

/**
 * Whether each of these workers is alive now, in one query (trace asks it for the workers of an
 * event's attempts). A worker with no row (an operator, a worker from before the registry) is
 * absent from the map: unknown, not dead.
 */
export async function workersAlive(
  db: Db,
  ids: readonly string[],
  liveWithinMs: number,
): Promise<Map<string, boolean>> {
  if (ids.length === 0) return new Map();
  const found = await db
    .select({ id: workers.id, alive: aliveSql(liveWithinMs) })
    .from(workers)
    .where(inArray(workers.id, [...ids]));
  return new Map(found.map((w) => [w.id, w.alive]));
}
