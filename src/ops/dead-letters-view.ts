import type { DeadLetterRow } from "../outbox/dlq-list.ts";
import type { DlqOutcome } from "../outbox/dlq-statement.ts";
import { reasonOf } from "../outbox/reasons.ts";
import type { DlqActionName } from "./dead-letters-input.ts";

/** One dead letter as GET /v1/dead-letters shows it. */
export interface DeadLetterView {
  id: string;
  customer: string;
  event_name: string;
  value: number;
  occurred_at: string;
  /** When it became a dead letter. */
  failed_at: string;
  attempts: number;
  /** Why it is a dead letter: what the person reads to decide between retry, discard and resolve. */
  error: {
    code: string | null;
    message: string | null;
    http_status: number | null;
    request_id: string | null;
  };
  first_ambiguous_at: string | null;
  first_sent_at: string | null;
  /** The code's scope and the operator's next step (outbox/reasons.ts); null for a code Stripe gave. */
  next_step: { scope: string; action: string } | null;
  /** A plain retry is refused: Stripe may hold it and no longer dedups it (see the refusal). */
  dedup_window_expired: boolean;
}

/** What POST /v1/dead-letters/:action answers. */
export interface ActionView {
  action: DlqActionName;
  dry_run: boolean;
  /** Dead letters the ids or filter matched. */
  matched: number;
  /** How many this call changed (0 on a dry run). */
  changed: number;
  /** The changed ids, oldest dead letter first; on a dry run, a sample of what would change. */
  ids: string[];
  /** Dry run: how many would change. */
  would_change?: number;
  /** Matched dead letters a next call would still change (a filter matching more than `limit`). */
  remaining: number;
  /** Named ids that are not dead letters (no such event, or not failed): nothing was done to them. */
  unmatched_ids?: string[];
  /** Retry: matched events refused, and why. */
  refused?: { code: string; count: number; ids: string[]; message: string };
}

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
  outcome: DlqOutcome,
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
  return view;
}
