import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

const HOUR_MS = 3_600_000;

/** A finished, error-free reconciliation, as coverage reads it. */
export interface CleanRun {
  id: number;
  startedAt: number;
  /** [rangeStart, rangeEnd): whole hours, ms. */
  rangeStart: number;
  rangeEnd: number;
  /** The hours (ms) where the run found drift in some customer × meter group. */
  driftHours: number[];
}

/**
 * Events whose own time falls in [start, end) are covered: a reconciliation compared their hours
 * and found them clean. Only those reported before `reportedBefore` were seen by it as settled.
 */
export interface CoveredSpan {
  start: number;
  end: number;
  reportedBefore: number;
}

/**
 * The hours before `cutoff` a reconciliation has vouched for. Each hour is judged by the LATEST
 * clean run whose range holds it: covered when that run found no drift in it. So a run that found
 * drift keeps its hours until a later run compares them clean, and a later run that finds drift
 * takes back what an earlier one vouched for. A run that failed (error) compared nothing and does
 * not count. Consecutive covered hours merge into spans; a span's events must have been reported
 * `settleMs` before the earliest of its runs started (Stripe's totals lag; the run left more
 * recent reports out). Pure.
 */
export function coveredSpans(
  runs: readonly CleanRun[],
  cutoff: number,
  settleMs: number,
): CoveredSpan[] {
  const judge = new Map<number, CleanRun>();
  for (const run of [...runs].sort((a, b) => a.id - b.id)) {
    for (let h = run.rangeStart; h < Math.min(run.rangeEnd, cutoff); h += HOUR_MS)
      judge.set(h, run);
  }
  const spans: CoveredSpan[] = [];
  for (const h of [...judge.keys()].sort((a, b) => a - b)) {
    const run = judge.get(h) as CleanRun;
    if (run.driftHours.includes(h)) continue;
    const end = Math.min(h + HOUR_MS, cutoff);
    const before = run.startedAt - settleMs;
    const last = spans.at(-1);
    if (last && last.end === h) {
      last.end = end;
      last.reportedBefore = Math.min(last.reportedBefore, before);
    } else {
      spans.push({ start: h, end, reportedBefore: before });
    }
  }
  return spans;
}

/** The finished, error-free reconciliations that reach back before `cutoff`. */
export async function cleanRunsBefore(db: Db, cutoff: Date): Promise<CleanRun[]> {
  const found = await rows<{
    id: number;
    started_ms: string;
    start_ms: string;
    end_ms: string;
    drift_hours: string[];
  }>(
    db,
    sql`select id::int as id,
               (extract(epoch from started_at) * 1000)::bigint::text as started_ms,
               (extract(epoch from range_start) * 1000)::bigint::text as start_ms,
               (extract(epoch from range_end) * 1000)::bigint::text as end_ms,
               array(select distinct d ->> 'hour' from jsonb_array_elements(drift) d) as drift_hours
          from reconciliations
         where finished_at is not null and error is null
           and range_start < ${cutoff.toISOString()}::timestamptz
         order by id`,
  );
  return found.map((r) => ({
    id: r.id,
    startedAt: Number(r.started_ms),
    rangeStart: Number(r.start_ms),
    rangeEnd: Number(r.end_ms),
    driftHours: r.drift_hours.map((h) => Date.parse(h)),
  }));
}
