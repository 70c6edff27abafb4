import { z } from "zod";
import { ErrorCode } from "../lib/error-codes.ts";
import type { CancelOutcome } from "../outbox/cancel-pending.ts";
import { refusedSchema } from "./dead-letters-view.ts";

/** What POST /v1/events/cancel answers. */
export const cancelViewSchema = z.object({
  action: z.literal("cancel"),
  dry_run: z.boolean(),
  matched: z.number().int().describe("Pending events the ids or filter matched"),
  changed: z.number().int().describe("How many this call cancelled (0 on a dry run)"),
  ids: z
    .array(z.string())
    .describe(
      "The cancelled ids, oldest received first; on a dry run, a sample of what would change",
    ),
  would_change: z.number().int().optional().describe("Dry run: how many would be cancelled"),
  remaining: z
    .number()
    .int()
    .describe(
      "Matched events a next call would still cancel (a filter matching more than `limit`)",
    ),
  refused: refusedSchema
    .optional()
    .describe("Matched events refused because a worker holds them right now (a filter skips them)"),
  sent_before: refusedSchema
    .omit({ code: true })
    .optional()
    .describe("Cancelled (dry run: would be) events that were sent before: Stripe may hold them"),
});

/** What POST /v1/events/cancel answers. */
export type CancelView = z.infer<typeof cancelViewSchema>;

function some(count: number, one: string, many: string): string {
  return count === 1 ? `1 ${one}` : `${count} ${many}`;
}

/** Why a leased event is not cancelled, and what to do, for the API's and the CLI's readers. */
export function inFlightMessage(count: number): string {
  const what = some(count, "event is", "events are");
  return (
    `${what} being sent to Stripe right now (a worker holds its lease): cancelling it under the ` +
    "worker could lose a delivery Stripe already counted. Try again once the send is over (a " +
    "lease lasts METERLINE_LEASE_MS, 15 s by default); if it was delivered by then, it is " +
    "reported and there is nothing to cancel here."
  );
}

/** What to do about cancelled events Stripe may already hold. */
export function sentBeforeMessage(count: number): string {
  const what = some(count, "event was", "events were");
  return (
    `${what} sent to Stripe before (first_sent_at is set), so Stripe may hold ` +
    `${count === 1 ? "it" : "them"}: cancelling stops any further send, not what Stripe has. ` +
    "Look each identifier (the event id) up in Stripe: a meter event that counted can be " +
    "cancelled with a meter event adjustment within 24 h of Stripe receiving it. Each event's " +
    "trace (meterline trace ID) says when it was first sent."
  );
}

/** Why named ids that are not pending stop the whole call. */
export function notPendingMessage(events: Array<{ id: string; status: string }>): string {
  const listed = events
    .slice(0, 10)
    .map((e) => `${e.id} (${e.status})`)
    .join(", ");
  const more = events.length > 10 ? ` and ${events.length - 10} more` : "";
  return (
    `nothing was cancelled: only pending events can be cancelled, and ${listed}${more} ` +
    `${events.length === 1 ? "is" : "are"} not. A failed event (a dead letter) is discarded ` +
    'with POST /v1/dead-letters/discard ("meterline dlq discard"); a reported one is in Stripe ' +
    "already; a discarded one is done."
  );
}

/** Why unknown named ids stop the whole call. */
export function unknownIdsMessage(ids: string[]): string {
  const listed = ids.slice(0, 10).join(", ");
  const more = ids.length > 10 ? ` and ${ids.length - 10} more` : "";
  return `nothing was cancelled: no event has ${ids.length === 1 ? "id" : "ids"} ${listed}${more}`;
}

/** Renders a cancel's outcome. Pure. */
export function cancelView(dryRun: boolean, outcome: CancelOutcome): CancelView {
  const view: CancelView = {
    action: "cancel",
    dry_run: dryRun,
    matched: outcome.matched,
    changed: outcome.changed.length,
    ids: dryRun ? outcome.wouldChange : outcome.changed,
    ...(dryRun ? { would_change: outcome.wouldChangeCount } : {}),
    remaining: Math.max(0, outcome.wouldChangeCount - outcome.changed.length),
  };
  if (outcome.refused > 0) {
    view.refused = {
      code: ErrorCode.event_in_flight,
      count: outcome.refused,
      ids: outcome.refusedIds,
      message: inFlightMessage(outcome.refused),
    };
  }
  if (outcome.sentBefore > 0) {
    view.sent_before = {
      count: outcome.sentBefore,
      ids: outcome.sentBeforeIds,
      message: sentBeforeMessage(outcome.sentBefore),
    };
  }
  return view;
}
