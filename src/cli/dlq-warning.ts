import type { ActionView } from "../ops/dead-letters-view.ts";
import type { RetryCause, RetryCauseCounts } from "../outbox/dlq-retry-check.ts";

/** What is still wrong, in a few words, and what fixes it first. */
const STILL_THERE: Record<RetryCause, string> = {
  timestamp_too_old: "now older than Stripe accepts: discard them and bill another way",
  customer_not_found: "the customer is still missing: create it first",
  customer_deleted: "the customer is still deleted: restore it first, or discard them",
  subscription_item_missing: "still no subscription item for the meter: set it first",
};

/** Two batches' counts added up. Pure. */
export function addCauses(a: RetryCauseCounts | undefined, b: RetryCauseCounts): RetryCauseCounts {
  const sum: RetryCauseCounts = { ...a };
  for (const [cause, n] of Object.entries(b) as Array<[RetryCause, number]>) {
    sum[cause] = (sum[cause] ?? 0) + n;
  }
  return sum;
}

/** The warning line for a retry whose events' causes are still there, or null. Pure. */
export function retryWarning(view: ActionView): string | null {
  const counts = Object.entries(view.will_fail_again ?? {}) as Array<[RetryCause, number]>;
  if (counts.length === 0) return null;
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  const causes = counts.map(([cause, n]) => `${n} ${cause} (${STILL_THERE[cause]})`).join("; ");
  const what = view.dry_run
    ? `${total} of them would fail again at once`
    : `${total} of them will fail again at once`;
  return `Warning: ${what}, their cause is still there: ${causes}.`;
}
