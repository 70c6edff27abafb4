import { z } from "zod";
import {
  customerKeySchema,
  eventIdSchema,
  eventNameSchema,
  fieldRules,
} from "../ingest/event-input.ts";
import { ErrorCode, ItemErrorCode } from "../lib/error-codes.ts";
import type { ItemError } from "../lib/errors.ts";
import { MATCHED_IDS_MAX } from "../outbox/dlq-statement.ts";
import type { PendingFilter, PendingTarget } from "../outbox/pending-where.ts";
import { describeIssues } from "../validation/describe-issues.ts";
import { listError } from "../validation/item-error-list.ts";
import { parseBody } from "../validation/parse-body.ts";
import { oneError, requireIdsOrFilter } from "../validation/target-body.ts";
import { DURATION_RULE, parseDuration } from "./dead-letters-filter.ts";

/** Events one cancel changes (one statement): default and most. */
export const CANCEL_LIMIT = { default: 1000, max: 10_000 } as const;

/** Longest reason a person may give. */
export const REASON_MAX = 500;

/** POST /v1/events/cancel, parsed. */
export interface CancelInput {
  target: PendingTarget;
  dryRun: boolean;
  limit: number;
  reason: string;
}

/** The pending filter's fields as the API names them (in `filter` of the JSON body). */
export const pendingFilterFields = [
  "customer",
  "event_name",
  "wait_reason",
  "older_than",
  "newer_than",
] as const;

/** One field of a pending filter. */
export type PendingFilterField = (typeof pendingFilterFields)[number];

/** Each filter field's rule, the sentence after its name in an error message. */
export const pendingFilterRules: Readonly<Record<PendingFilterField, string>> = {
  customer: fieldRules.customer,
  event_name: fieldRules.event_name,
  wait_reason:
    "must be a wait reason (e.g. timestamp_in_future, customer_unlinked; GET /v1/stats lists them): 1 to 100 characters from A-Z a-z 0-9 . _ : -",
  older_than: `${DURATION_RULE} (counted from when the event was received)`,
  newer_than: `${DURATION_RULE} (counted from when the event was received)`,
};

const durationSchema = z
  .string()
  .refine((text) => parseDuration(text) !== null)
  .transform((text) => parseDuration(text) ?? 0);

// Strict, so a misspelt field is refused, not ignored: a filter that silently widens cancels
// events nobody meant to cancel.
const pendingFilterSchema = z.strictObject({
  customer: customerKeySchema.optional(),
  event_name: eventNameSchema.optional(),
  wait_reason: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9._:-]+$/)
    .optional(),
  older_than: durationSchema.optional(),
  newer_than: durationSchema.optional(),
});

/** A pending filter check: the parsed filter, or the broken rules (fields named with `prefix`). */
export type PendingFilterCheck =
  | { ok: true; filter: PendingFilter }
  | { ok: false; errors: ItemError[]; total: number };

/**
 * Checks a pending filter as sent (strings, from a JSON body or CLI flags) and parses it. Pure.
 * Every field narrows, and at least one must be set: cancelling every pending event at once is
 * not an operation (a revoked key or an outage is fixed, not cancelled). A newer_than not longer
 * than older_than can match nothing, so it is refused as the mistake it almost surely is.
 */
export function checkPendingFilter(input: unknown, prefix = ""): PendingFilterCheck {
  const parsed = pendingFilterSchema.safeParse(input);
  if (!parsed.success) {
    const errors = describeIssues(parsed.error.issues, input, {
      index: 0,
      prefix,
      rules: pendingFilterRules,
    });
    return { ok: false, errors: errors.listed, total: errors.total };
  }
  const f = parsed.data;
  if (Object.values(f).every((v) => v === undefined)) {
    const field = prefix === "" ? "filter" : prefix.slice(0, -1);
    return {
      ok: false,
      errors: oneError(
        field,
        `${field} must set at least one of ${pendingFilterFields.join(", ")}: cancelling every pending event at once is not offered`,
        ItemErrorCode.required,
      ),
      total: 1,
    };
  }
  if (f.older_than !== undefined && f.newer_than !== undefined && f.newer_than <= f.older_than) {
    const field = `${prefix}newer_than`;
    return {
      ok: false,
      errors: oneError(
        field,
        `${field} must be longer than ${prefix}older_than: events received before one and after the other cannot exist`,
      ),
      total: 1,
    };
  }
  return {
    ok: true,
    filter: {
      customer: f.customer,
      eventName: f.event_name,
      waitReason: f.wait_reason,
      olderThanMs: f.older_than,
      newerThanMs: f.newer_than,
    },
  };
}

const bodySchema = z.strictObject({
  ids: z.array(eventIdSchema).min(1).max(MATCHED_IDS_MAX).optional(),
  filter: z.unknown().optional(),
  reason: z.string().trim().min(1).max(REASON_MAX),
  dry_run: z.boolean().optional(),
  limit: z.number().int().min(1).max(CANCEL_LIMIT.max).optional(),
});
const bodyRules = {
  ids: `must be a list of 1 to ${MATCHED_IDS_MAX} event ids, each ${fieldRules.id}`,
  filter: `must be a JSON object of pending-event filters (${pendingFilterFields.join(", ")})`,
  reason: `must be a string of 1 to ${REASON_MAX} characters: why, in your words (kept in the audit row and the event's last error)`,
  dry_run: "must be true or false",
  limit: `must be a whole number from 1 to ${CANCEL_LIMIT.max}`,
};

/** The body of POST /v1/events/cancel as the API reference shows it, filter included. */
export const cancelBodyDoc = bodySchema.extend({ filter: pendingFilterSchema.optional() });

/** The rule of each body field (and filter field), for the API reference. */
export const cancelBodyRules: Readonly<Record<string, string>> = {
  ...pendingFilterRules,
  ...bodyRules,
};

/**
 * Parses the body of POST /v1/events/cancel, or throws 400 invalid_body naming the field and the
 * rule. Exactly one of `ids` (the events) and `filter` (which pending events); `reason` always.
 */
export function parseCancelBody(body: unknown): CancelInput {
  const b = parseBody<z.infer<typeof bodySchema>>(bodySchema, body, bodyRules);
  requireIdsOrFilter(b.ids !== undefined, b.filter !== undefined, "pending events");
  let target: PendingTarget;
  if (b.ids !== undefined) {
    target = { ids: [...new Set(b.ids)] };
  } else {
    const checked = checkPendingFilter(b.filter, "filter.");
    if (!checked.ok) throw listError(ErrorCode.invalid_body, checked.errors, checked.total);
    target = { filter: checked.filter };
  }
  return {
    target,
    dryRun: b.dry_run === true,
    limit: b.limit ?? CANCEL_LIMIT.default,
    reason: b.reason,
  };
}
