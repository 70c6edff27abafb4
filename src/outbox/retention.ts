import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { type CoveredSpan, cleanRunsBefore, coveredSpans } from "../reconcile/coverage.ts";
import { addToCount } from "./event-counts.ts";
import { releaseRequestRows } from "./request-rows.ts";

/**
 * Retention removes events that no one needs row by row any more: reported or discarded, whose
 * own time is older than the horizon, in an hour a reconciliation compared clean (reconcile/
 * coverage.ts), with their attempt rows. Dead letters (failed) stay whatever their age: each
 * waits for a person. The horizon is at least Stripe's 35 days: a producer replaying a removed
 * event's id is then refused by pre-flight (too old for Stripe), never billed twice.
 */
export interface RetentionOptions {
  /** Events whose occurred_at is before this may go. */
  cutoff: Date;
  /** The reconciliation's settle margin (METERLINE_RECONCILE_SETTLE_MINUTES), ms. */
  settleMs: number;
  /** Most events one statement removes (each in its own short transaction). */
  batchSize: number;
  /** Pause between batches, so the hot path's statements find the database free. */
  pauseMs: number;
  /** Asked between batches: stop early (shutdown). */
  stopping?: () => boolean;
  /** Told after each batch (metrics, the run's row). */
  onBatch?: (batch: RemovedBatch) => Promise<void> | void;
}

/** What one batch removed. */
export interface RemovedBatch {
  events: number;
  reported: number;
  discarded: number;
  attempts: number;
}

/** Removes what the horizon and the reconciliations allow, batch by batch. Totals. */
export async function removeExpired(db: Db, o: RetentionOptions): Promise<RemovedBatch> {
  const total: RemovedBatch = { events: 0, reported: 0, discarded: 0, attempts: 0 };
  const spans = coveredSpans(await cleanRunsBefore(db, o.cutoff), o.cutoff.getTime(), o.settleMs);
  for (const span of spans) {
    for (const slice of hourSlices(span)) {
      for (const status of REMOVED_STATUSES) {
        if (!(await removeSpan(db, slice, status, o, total))) return total;
      }
    }
  }
  return total;
}

const HOUR_MS = 3_600_000;

/**
 * A span, an hour at a time. The rows of one hour sit on few pages (stored as they arrived), so
 * a batch dirties those pages again and again: one full-page image each after a checkpoint. By
 * customer over the whole span, each removed row was on a page of its own: ~12 kB of WAL per
 * event (a full-page image each) against ~0.5 kB (EXPLAIN (ANALYZE, BUFFERS, WAL), 1,000,000
 * events over 300 customers).
 */
function hourSlices(span: CoveredSpan): CoveredSpan[] {
  const slices: CoveredSpan[] = [];
  for (let start = span.start; start < span.end; ) {
    const end = Math.min(span.end, Math.floor(start / HOUR_MS) * HOUR_MS + HOUR_MS);
    slices.push({ start, end, reportedBefore: span.reportedBefore });
    start = end;
  }
  return slices;
}

/** The statuses retention removes: the ends no one acts on any more. */
const REMOVED_STATUSES = ["reported", "discarded"] as const;
type RemovedStatus = (typeof REMOVED_STATUSES)[number];

/** One span's events of one status, batch by batch, into `total`. False: stopped early. */
async function removeSpan(
  db: Db,
  span: CoveredSpan,
  status: RemovedStatus,
  o: RetentionOptions,
  total: RemovedBatch,
): Promise<boolean> {
  // Customers in key order; a batch that stops within one customer's rows resumes at it.
  let after = "";
  for (;;) {
    if (o.stopping?.()) return false;
    const batch = await removeBatch(db, span, status, after, o.batchSize);
    total.events += batch.events;
    total.reported += batch.reported;
    total.discarded += batch.discarded;
    total.attempts += batch.attempts;
    if (batch.events > 0) await o.onBatch?.(batch);
    // Fewer picked than asked: the span is done. None removed of a full pick: rows changed
    // under it (a concurrent statement), left for the next sweep rather than picked forever.
    if (batch.picked < o.batchSize || batch.events === 0 || batch.lastKey === null) break;
    after = batch.lastKey;
    if (o.pauseMs > 0) await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  return true;
}

/**
 * One batch in one statement: pick up to `limit` expired events of the span, customer by
 * customer through usage_events_customer_idx (customer_key, status, occurred_at) — an exact
 * range per customer, never the recent rows — then delete them (guarded: still reported or
 * discarded), their attempts (by the attempts' key) and the request rows whose last events they
 * were, and count what went (usage_event_counts).
 */
export async function removeBatch(
  db: Db,
  span: CoveredSpan,
  status: RemovedStatus,
  after: string,
  limit: number,
): Promise<RemovedBatch & { picked: number; lastKey: string | null }> {
  const [row] = await rows<{
    picked: number;
    last_key: string | null;
    reported: number;
    discarded: number;
    attempts: number;
  }>(db, removeBatchStatement(span, status, after, limit));
  if (!row) throw new Error("retention: the batch returned no row");
  return {
    picked: row.picked,
    lastKey: row.last_key,
    events: row.reported + row.discarded,
    reported: row.reported,
    discarded: row.discarded,
    attempts: row.attempts,
  };
}

/** removeBatch's statement (exported so that a test can read its plan). */
export function removeBatchStatement(
  span: CoveredSpan,
  status: RemovedStatus,
  after: string,
  limit: number,
) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return sql`
    with picked as materialized (
      select p.id, c.key
        from customers c
        cross join lateral (
          select e.id from usage_events e
           where e.customer_key = c.key
             and e.status = ${status}::text
             and e.occurred_at >= ${iso(span.start)}::timestamptz
             and e.occurred_at < ${iso(span.end)}::timestamptz
             -- Reported after the covering run looked: not compared yet.
             and (e.status = 'discarded' or e.reported_at < ${iso(span.reportedBefore)}::timestamptz)
           limit ${limit}::int) p
       where c.key >= ${after}::text
       order by c.key
       limit ${limit}::int
    ),
    -- By key, as an array: a join would let the planner hash the whole table when its
    -- statistics are stale or the table small.
    gone as (
      delete from usage_events e
       where e.id = any(array(select id from picked))
         and e.status = ${status}::text
      returning e.id, e.status, e.delivered_by
    ),
    gone_attempts as (
      delete from usage_event_attempts a
       where a.event_id = any(array(select id from gone))
      returning 1
    ),
    -- A request row (usage_event_requests) goes with the last event that names it.
    ${releaseRequestRows("gone")},
    -- reported and discarded stay all-time figures; what went is counted apart.
    counted_reported as (${addToCount(
      "removed_reported",
      sql`select count(*) as n from gone where status = 'reported'`,
    )}),
    counted_discarded as (${addToCount(
      "removed_discarded",
      sql`select count(*) as n from gone where status = 'discarded'`,
    )})
    select (select count(*)::int from picked) as picked,
           (select max(key) from picked) as last_key,
           (select count(*)::int from gone where status = 'reported') as reported,
           (select count(*)::int from gone where status = 'discarded') as discarded,
           (select count(*)::int from gone_attempts) as attempts`;
}
