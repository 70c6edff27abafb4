import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { byWhom, type DlqOutcome, type DlqRun, runDlq } from "./dlq-statement.ts";
import { leaseCleared } from "./lease-sql.ts";

/**
 * Operator resolve as delivered: failed → reported, in one guarded statement per batch (see
 * runDlq), for events a person confirmed Stripe holds (e.g. dedup_window_expired, after looking
 * the identifier up in Stripe's dashboard). Nothing is sent. reported_at is now, failed_at and the
 * last error are kept, and stripe_request_id stays null: no Meterline call is known to have
 * delivered it, and the audit row says who vouched for it instead.
 */
export function resolveDeadLetters(db: Db, run: DlqRun): Promise<DlqOutcome> {
  return runDlq(db, run, {
    outcome: "operator_resolved",
    refuse: sql`false`,
    set: sql`
      status = 'reported',
      reported_at = now(),
      ${leaseCleared},
      wait_reason = null`,
    attemptNo: sql`b.attempts`,
    counts: "reported",
    message: sql`format('resolved as delivered%s: the operator confirmed Stripe holds it; it was failed (%s)',
      ${byWhom(run)}::text, coalesce(b.code, 'no code'))`,
  });
}
