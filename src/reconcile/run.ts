import { desc, eq, getTableColumns, isNotNull, sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { type ReconciliationRow, reconciliations } from "../db/schema/reconciliations.ts";
import { underStartLock } from "../db/start-lock.ts";
import { coerceError } from "../lib/errors.ts";
import { compareTotals } from "./drift.ts";
import { reportedTotals } from "./reported-totals.ts";
import { stripeTotals } from "./stripe-totals.ts";
import {
  itemPeriods,
  periodStripeTotals,
  reportedItems,
  reportedPeriodTotals,
} from "./usage-record-totals.ts";

/** What one reconciliation covers. */
export interface ReconcileOptions {
  /** Whole hours back from the end of the current hour, by the events' own timestamps. */
  hours: number;
  /** Events reported this recently are not compared yet: Stripe's totals lag. */
  settleMinutes: number;
  /** Who runs it (a worker id, or "api"). */
  ranBy: string;
  /**
   * The periodic job's guard: run only if no reconciliation started within this many ms (one
   * worker of all runs it; the others find it started). Unset: always run (a person asked).
   */
  unlessStartedWithinMs?: number;
  now?: Date;
}

/** The advisory lock two workers' guarded starts take, so that only one of them inserts. */
const START_LOCK = 0x6d6c7263; // "mlrc"

const HOUR_MS = 3_600_000;

/** [start, end) of a reconciliation: whole UTC hours, up to the end of the current one. */
export function reconcileRange(now: Date, hours: number): { start: Date; end: Date } {
  const end = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS;
  return { start: new Date(end - hours * HOUR_MS), end: new Date(end) };
}

/**
 * Compares what Meterline reported with Stripe's own totals (reconcile/drift.ts) and keeps the
 * result in `reconciliations`, whether it found drift, none, or could not finish (the error is
 * kept). Returns the stored row; null when the guard found a run started by someone else.
 */
export async function runReconciliation(
  db: Db,
  stripe: Stripe,
  options: ReconcileOptions & { unlessStartedWithinMs?: undefined },
): Promise<ReconciliationRow>;
export async function runReconciliation(
  db: Db,
  stripe: Stripe,
  options: ReconcileOptions,
): Promise<ReconciliationRow | null>;
export async function runReconciliation(
  db: Db,
  stripe: Stripe,
  options: ReconcileOptions,
): Promise<ReconciliationRow | null> {
  const now = options.now ?? new Date();
  const range = reconcileRange(now, options.hours);
  const started = await startRun(db, range, options);
  if (started === null) return null;
  let values: Partial<ReconciliationRow>;
  try {
    // Meter events per customer × meter × hour; legacy usage records per item × billing period.
    const reported = await reportedTotals(db, range.start, range.end);
    const theirs = await stripeTotals(stripe, reported);
    const items = await reportedItems(db, range.start, range.end);
    const periods = await itemPeriods(stripe, items, range.start, range.end);
    const report = compareTotals(
      [...reported, ...(await reportedPeriodTotals(db, periods))],
      [...theirs, ...periodStripeTotals(periods)],
      now.getTime() - options.settleMinutes * 60_000,
    );
    values = {
      groups: report.groups,
      driftGroups: report.drift.length,
      settlingGroups: report.settlingGroups,
      meterlineTotal: report.meterlineTotal,
      stripeTotal: report.stripeTotal,
      drift: report.drift,
      driftTotal: report.drift.reduce((sum, d) => sum + Math.abs(d.difference), 0),
    };
  } catch (err) {
    values = { error: coerceError(err).message };
  }
  const [row] = await db
    .update(reconciliations)
    .set({ ...values, finishedAt: new Date() })
    .where(eq(reconciliations.id, started.id))
    .returning();
  if (!row) throw new Error("reconciliations: update returned no row");
  return row;
}

/** Inserts the run's row (guarded for the periodic job); its id, or null when skipped. */
async function startRun(
  db: Db,
  range: { start: Date; end: Date },
  options: ReconcileOptions,
): Promise<{ id: number } | null> {
  const values = { rangeStart: range.start, rangeEnd: range.end, ranBy: options.ranBy };
  if (options.unlessStartedWithinMs === undefined) {
    const [row] = await db
      .insert(reconciliations)
      .values(values)
      .returning({ id: reconciliations.id });
    if (!row) throw new Error("reconciliations: insert returned no row");
    return row;
  }
  return underStartLock(db, START_LOCK, async (tx) => {
    const [row] = await rows<{ id: number }>(
      tx,
      sql`insert into reconciliations (range_start, range_end, ran_by)
          select ${range.start.toISOString()}::timestamptz, ${range.end.toISOString()}::timestamptz,
                 ${options.ranBy}
           where not exists (select 1 from reconciliations
                              where started_at > now() - ${options.unlessStartedWithinMs}::float8
                                    * interval '1 millisecond')
          returning id::int as id`,
    );
    return row ?? null;
  });
}

/** The latest finished reconciliation, or null when none has run. */
export async function latestReconciliation(db: Db): Promise<ReconciliationRow | null> {
  const [row] = await db
    .select()
    .from(reconciliations)
    .where(isNotNull(reconciliations.finishedAt))
    .orderBy(desc(reconciliations.id))
    .limit(1);
  return row ?? null;
}

/** A reconciliation without its differences. */
export type ReconciliationSummaryRow = Omit<ReconciliationRow, "drift">;

/**
 * The latest finished reconciliation without its differences (each with the events behind it:
 * any size), or null: what the dashboard shows on every refresh, so it never reads them.
 */
export async function latestReconciliationSummary(
  db: Db,
): Promise<ReconciliationSummaryRow | null> {
  const { drift: _drift, ...columns } = getTableColumns(reconciliations);
  const [row] = await db
    .select(columns)
    .from(reconciliations)
    .where(isNotNull(reconciliations.finishedAt))
    .orderBy(desc(reconciliations.id))
    .limit(1);
  return row ?? null;
}
