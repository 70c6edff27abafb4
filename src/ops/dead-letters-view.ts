import { z } from "zod";
import { eventErrorSchema } from "../ingest/event-trace.ts";
import type { DeadLetterRow } from "../outbox/dlq-list.ts";
import type { RetryCauseCounts } from "../outbox/dlq-retry-check.ts";
import type { DlqOutcome } from "../outbox/dlq-statement.ts";
import { reasonOf } from "../outbox/reasons.ts";
import type { DlqActionName } from "./dead-letters-input.ts";

/** One dead letter as GET /v1/dead-letters shows it. */
export const deadLetterViewSchema = z.object({
  id: z.string(),
  customer: z.string(),
  event_name: z.string(),
  value: z.number().int(),
  occurred_at: z.string(),
  failed_at: z.string().describe("When it became a dead letter"),
  attempts: z.number().int(),
  error: eventErrorSchema.describe(
    "Why it is a dead letter: what the person reads to decide between retry, discard and resolve",
  ),
  first_ambiguous_at: z.string().nullable(),
  first_sent_at: z.string().nullable(),
  next_step: z
    .object({ scope: z.string(), action: z.string() })
    .nullable()
    .describe("The code's scope and the operator's next step; null for a code Stripe gave"),
  dedup_window_expired: z
    .boolean()
    .describe("A plain retry is refused: Stripe may hold it and no longer dedups it"),
});

/** One dead letter as GET /v1/dead-letters shows it. */
export type DeadLetterView = z.infer<typeof deadLetterViewSchema>;

/** A refusal inside a successful answer: which code, how many, which ids, what to do. */
export const refusedSchema = z.object({
  code: z.string(),
  count: z.number().int(),
  ids: z.array(z.string()),
  message: z.string(),
});

/** What POST /v1/dead-letters/:action answers. */
export const actionViewSchema = z.object({
  action: z.enum(["retry", "discard", "resolve"]),
  dry_run: z.boolean(),
  matched: z.number().int().describe("Dead letters the ids or filter matched"),
  changed: z.number().int().describe("How many this call changed (0 on a dry run)"),
  ids: z
    .array(z.string())
    .describe(
      "The changed ids, oldest dead letter first; on a dry run, a sample of what would change",
    ),
  would_change: z.number().int().optional().describe("Dry run: how many would change"),
  remaining: z
    .number()
    .int()
    .describe(
      "Matched dead letters a next call would still change (a filter matching more than `limit`)",
    ),
  unmatched_ids: z
    .array(z.string())
    .optional()
    .describe(
      "Named ids that are not dead letters (no such event, or not failed): nothing was done to them",
    ),
  refused: refusedSchema.optional().describe("Retry: matched events refused, and why"),
  will_fail_again: z
    .record(z.string(), z.number().int())
    .optional()
    .describe(
      "Retry: of the events retried (dry run: of the first batch it would retry), how many will fail again because their cause is still there, per dead-letter code; absent when none",
    ),
});

/** What POST /v1/dead-letters/:action answers. */
export type ActionView = z.infer<typeof actionViewSchema>;

/** Renders a listed row. Pure. */
export function deadLetterView(row: DeadLetterRow): DeadLetterView {
  return {
    id: row.id,
    customer: row.customer_key,
    event_name: row.event_name,
    value: row.value,
    occurred_at: row.occurred_at,
    failed_at: row.dead_at,
    attempts: row.attempts,
    error: {
      code: row.code,
      message: row.message,
      http_status: row.http_status,
      request_id: row.request_id,
    },
    first_ambiguous_at: row.first_ambiguous_at,
    first_sent_at: row.first_sent_at,
    next_step: nextStep(row.code),
    dedup_window_expired: row.dedup_window_expired,
  };
}

/** The registry's advice for a dead-letter code, in the view's words. */
function nextStep(code: string | null): DeadLetterView["next_step"] {
  const reason = reasonOf(code);
  return reason ? { scope: reason.scope, action: reason.nextStep } : null;
}

/**
 * Why a retry refuses an event whose first ambiguous attempt is past the dedup window, and the
 * two ways forward, for the API's and the CLI's readers alike.
 */
export function refusalMessage(count: number, dedupWindowMs: number): string {
  const hours = Math.round((dedupWindowMs / 3_600_000) * 10) / 10;
  const what = count === 1 ? "1 dead letter was" : `${count} dead letters were`;
  return (
    `${what} first sent more than ${hours} h ago (first_sent_at), and ` +
    "Stripe only dedups an identifier for 24 h: Stripe may already hold it, so a plain retry " +
    "could bill it twice. Look the identifier (the event id) up in Stripe: if Stripe has it, " +
    "resolve it as delivered (meterline dlq resolve --delivered <id>); if not, retry it with " +
    '"confirm_not_in_stripe": true (meterline dlq retry --not-in-stripe <id>).'
  );
}

/** Renders an action's outcome. Pure. */
export function actionView(
  action: DlqActionName,
  dryRun: boolean,
  outcome: DlqOutcome & { willFailAgain?: RetryCauseCounts },
  named: string[] | null,
  dedupWindowMs: number,
): ActionView {
  const view: ActionView = {
    action,
    dry_run: dryRun,
    matched: outcome.matched,
    changed: outcome.changed.length,
    ids: dryRun ? outcome.wouldChange : outcome.changed,
    ...(dryRun ? { would_change: outcome.wouldChangeCount } : {}),
    remaining: Math.max(0, outcome.wouldChangeCount - outcome.changed.length),
  };
  if (named !== null) {
    const matched = new Set(outcome.matchedIds);
    view.unmatched_ids = named.filter((id) => !matched.has(id));
  }
  if (outcome.refused > 0) {
    view.refused = {
      code: "dedup_window_expired",
      count: outcome.refused,
      ids: outcome.refusedIds,
      message: refusalMessage(outcome.refused, dedupWindowMs),
    };
  }
  if (outcome.willFailAgain && Object.keys(outcome.willFailAgain).length > 0) {
    view.will_fail_again = outcome.willFailAgain;
  }
  return view;
}
