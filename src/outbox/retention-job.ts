import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { retentionRuns } from "../db/schema/retention-runs.ts";
import { underStartLock } from "../db/start-lock.ts";
import { coerceError } from "../lib/errors.ts";
import { startPeriodic } from "../lib/periodic.ts";
import type { ReporterLogger } from "../reporter/logger.ts";
import { type RemovedBatch, removeExpired } from "./retention.ts";

/** What the periodic retention sweep needs. */
export interface RetentionJobOptions {
  db: Db;
  /** This worker's id: the sweep's ran_by. */
  owner: string;
  /** METERLINE_RETENTION_DAYS: events older than this many days may go. */
  days: number;
  settleMinutes: number;
  /** How often one worker of all sweeps. */
  everyMs: number;
  /** How often a worker checks whether a sweep is due. */
  checkMs: number;
  batchSize: number;
  pauseMs: number;
  logger: ReporterLogger;
  /** Counts each batch's removals (the process's metrics). */
  removed?: (batch: RemovedBatch) => void;
}

/** Defaults: a sweep an hour, 2,000 events a statement, 200 ms between statements. */
export const RETENTION_DEFAULTS = {
  everyMs: 3_600_000,
  checkMs: 60_000,
  batchSize: 2_000,
  pauseMs: 200,
} as const;

/** A sweep that wrote no batch for this long is taken as gone (its worker crashed). */
const SWEEP_SILENT_MS = 5 * 60_000;

/** The advisory lock two workers' guarded starts take, so that only one of them inserts. */
const START_LOCK = 0x6d6c7274; // "mlrt"

const DAY_MS = 86_400_000;

/**
 * Every worker checks (at start, then every checkMs) whether a sweep is due; the guarded start
 * lets one of them run it: none started within everyMs, and none still running. Returns a stop
 * function that ends a sweep under way after its current batch.
 */
export function startRetentionJob(o: RetentionJobOptions): () => Promise<void> {
  return startPeriodic(o.checkMs, async (stopping) => {
    try {
      await sweepOnce(o, stopping);
    } catch (err) {
      o.logger.error({ err: coerceError(err) }, "retention sweep could not run");
    }
  });
}

/** One guarded sweep: null when another worker's sweep is recent or running. */
export async function sweepOnce(
  o: Omit<RetentionJobOptions, "checkMs">,
  stopping: () => boolean = () => false,
): Promise<{ id: number; removed: RemovedBatch } | null> {
  const cutoff = new Date(Date.now() - o.days * DAY_MS);
  const started = await startSweep(o.db, o.owner, cutoff, o.everyMs);
  if (started === null) return null;
  let error: string | null = null;
  let removed: RemovedBatch = { events: 0, reported: 0, discarded: 0, attempts: 0 };
  try {
    removed = await removeExpired(o.db, {
      cutoff,
      settleMs: o.settleMinutes * 60_000,
      batchSize: o.batchSize,
      pauseMs: o.pauseMs,
      stopping,
      onBatch: async (batch) => {
        o.removed?.(batch);
        await o.db
          .update(retentionRuns)
          .set({
            lastBatchAt: sql`now()`,
            removedEvents: sql`${retentionRuns.removedEvents} + ${batch.events}`,
            removedAttempts: sql`${retentionRuns.removedAttempts} + ${batch.attempts}`,
          })
          .where(eq(retentionRuns.id, started.id));
      },
    });
    if (stopping()) error = "stopped before the end (shutdown)";
  } catch (err) {
    error = coerceError(err).message;
  }
  await o.db
    .update(retentionRuns)
    .set({ finishedAt: sql`now()`, error })
    .where(eq(retentionRuns.id, started.id));
  if (error !== null) o.logger.error({ retention: started.id, error }, "retention sweep failed");
  else o.logger.info({ retention: started.id, ...removed }, "retention sweep done");
  return { id: started.id, removed };
}

/** Inserts the sweep's row unless one started within everyMs or one is still running. */
async function startSweep(
  db: Db,
  owner: string,
  cutoff: Date,
  everyMs: number,
): Promise<{ id: number } | null> {
  return underStartLock(db, START_LOCK, async (tx) => {
    const [row] = await rows<{ id: number }>(
      tx,
      sql`insert into retention_runs (ran_by, cutoff)
          select ${owner}, ${cutoff.toISOString()}::timestamptz
           where not exists (
             select 1 from retention_runs
              where started_at > now() - ${everyMs}::float8 * interval '1 millisecond'
                 or (finished_at is null
                     and last_batch_at > now() - ${SWEEP_SILENT_MS}::float8 * interval '1 millisecond'))
          returning id::int as id`,
    );
    return row ?? null;
  });
}
