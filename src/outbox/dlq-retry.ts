import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { countCauses, type RetryCauseCounts, readRetryCheck } from "./dlq-retry-check.ts";
import { byWhom, type DlqOutcome, type DlqRun, runDlq } from "./dlq-statement.ts";
import { dedupExpired } from "./dlq-where.ts";
import { leaseCleared } from "./lease-sql.ts";

/** A retry: a DlqRun plus what the dedup-window rule needs. */
export interface RetryRun extends DlqRun {
  /** Stripe dedups an identifier for 24 h; Meterline counts this window (config, 23 h). */
  dedupWindowMs: number;
  /**
   * The operator looked the events up in Stripe and confirmed Stripe does not hold them (named
   * ids only): the dedup window then no longer guards anything, and they may be sent again.
   */
  notInStripe: boolean;
  /** Pre-flight's margin under Stripe's 35 days: the check counts events now too old by it. */
  timestampMarginMs: number;
}

/** A retry's outcome, with the events it took whose cause is still there, by cause. */
export interface RetryOutcome extends DlqOutcome {
  /** Of the events retried (dry run: of its first batch), how many will fail again, per cause. */
  willFailAgain: RetryCauseCounts;
}

/**
 * Operator retry: failed → pending, due now, in one guarded statement per batch (see runDlq).
 *
 * - The event keeps its id, so its Stripe identifier (a pure function of the id) is unchanged:
 *   if Stripe already holds it within the dedup window, the resend is answered as a duplicate and
 *   nothing is counted twice.
 * - An event first sent longer ago than the dedup window is refused: Stripe may hold it and no
 *   longer dedups its identifier. A person checks Stripe, then resolves it as delivered, or
 *   retries it with `notInStripe`: that is the proof from Stripe the window asks for, so it clears
 *   first_sent_at (no earlier send can then be double counted; the next send starts a new window).
 */
export async function retryDeadLetters(db: Db, run: RetryRun): Promise<RetryOutcome> {
  const refuse = run.notInStripe ? sql`false` : dedupExpired(run.dedupWindowMs);
  // Read before the retry changes them; judged after, over what it changed (dry run: all read).
  const checked = await readRetryCheck(db, run.target, refuse, run.limit);
  const confirmed = run.notInStripe
    ? "; the operator confirmed Stripe does not hold it, so the dedup window no longer applies"
    : "";
  const outcome = await runDlq(db, run, {
    outcome: "operator_retry",
    refuse,
    set: sql`
      status = 'pending',
      -- A full retry budget: the person fixed the cause, and an event that failed as
      -- retries_exhausted would otherwise fail again after one attempt. The old attempts stay
      -- in usage_event_attempts, before this retry's audit row. claims is NOT reset: it only
      -- grows, so the settle guard (lease owner + claims) still fences off a stale worker.
      attempts = 0,
      next_attempt_at = now(),
      ${leaseCleared},
      wait_reason = null,
      -- No longer a dead letter, so it has no dead-letter age; the audit row keeps the story.
      failed_at = null,
      -- first_sent_at is kept (invariant 5: the window counts from the FIRST send) unless the
      -- operator confirmed Stripe does not hold the event.
      first_sent_at = ${run.notInStripe ? sql`null` : sql`e.first_sent_at`},
      -- Usage records: the resend needs a key Stripe holds no answer under when the stored one
      -- proves nothing was applied (a 400 or 404 under the key, the item corrected since) or the
      -- operator confirmed Stripe does not hold it; under the old key Stripe would only replay
      -- its stored answer, or refuse the changed parameters. Meter events ignore the key.
      key_generation = e.key_generation + (case when ${run.notInStripe}::boolean
        or e.last_http_status in (400, 404) then 1 else 0 end),
      first_ambiguous_at = ${run.notInStripe ? sql`null` : sql`e.first_ambiguous_at`}
      -- last_error_* stay visible until the next attempt writes its own outcome.`,
    attemptNo: sql`0`,
    // failed → pending: neither status is counted.
    counts: null,
    message: sql`format('retried%s: it was failed (%s) after %s counted attempt(s); attempts reset to 0; same id, so the same Stripe identifier%s',
      ${byWhom(run)}::text, coalesce(b.code, 'no code'), b.attempts, ${confirmed}::text)`,
  });
  const retried = new Set(outcome.changed);
  const judged = run.dryRun ? checked : checked.filter((row) => retried.has(row.id));
  return { ...outcome, willFailAgain: countCauses(judged, new Date(), run.timestampMarginMs) };
}
