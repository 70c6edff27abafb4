import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { byWhom, type DlqOutcome, type DlqRun, runDlq } from "./dlq-statement.ts";
import { leaseCleared } from "./lease-sql.ts";

/**
 * Operator discard: failed → discarded, in one guarded statement per batch (see runDlq). The
 * event is never sent; it stays in the table with its last error and failed_at (its dead-letter
 * time), so the books can still say what was dropped, when, by whom (the audit row) and why.
 */
export function discardDeadLetters(db: Db, run: DlqRun): Promise<DlqOutcome> {
  return runDlq(db, run, {
    outcome: "operator_discard",
    refuse: sql`false`,
    set: sql`
      status = 'discarded',
      ${leaseCleared},
      wait_reason = null`,
    attemptNo: sql`b.attempts`,
    counts: "discarded",
    message: sql`format('discarded%s: it was failed (%s); it will not be sent to Stripe',
      ${byWhom(run)}::text, coalesce(b.code, 'no code'))`,
  });
}
