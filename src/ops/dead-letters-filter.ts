import { z } from "zod";
import { customerKeySchema, eventNameSchema, fieldRules } from "../ingest/event-input.ts";
import { ItemErrorCode } from "../lib/error-codes.ts";
import type { ItemError } from "../lib/errors.ts";
import type { DlqFilter } from "../outbox/dlq-where.ts";
import { describeIssues } from "../validation/describe-issues.ts";

/** The sentence that follows a duration field's name when it is not one. */
export const DURATION_RULE = "must be a duration like 30m, 2h or 7d";

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30m" → 1,800,000 ms: a whole number and s, m, h or d. Null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!match) return null;
  const unit = match[2] as keyof typeof UNIT_MS;
  return Number(match[1]) * UNIT_MS[unit];
}

/** The filter's fields as the API names them (query string, or `filter` in a JSON body). */
export const filterFields = ["code", "customer", "event_name", "older_than", "newer_than"] as const;

/** One field of a dead-letter filter. */
export type FilterField = (typeof filterFields)[number];

/** Each filter field's rule, the sentence after its name in an error message. */
export const filterRules: Readonly<Record<FilterField, string>> = {
  code: "must be an error code: 1 to 100 characters from A-Z a-z 0-9 . _ : -",
  customer: fieldRules.customer,
  event_name: fieldRules.event_name,
  older_than: DURATION_RULE,
  newer_than: DURATION_RULE,
};

const durationSchema = z
  .string()
  .refine((text) => parseDuration(text) !== null)
  .transform((text) => parseDuration(text) ?? 0);

/** The filter's fields, each optional; strict, so a misspelt field is refused, not ignored. */
export const filterShape = {
  code: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9._:-]+$/)
    .optional(),
  customer: customerKeySchema.optional(),
  event_name: eventNameSchema.optional(),
  older_than: durationSchema.optional(),
  newer_than: durationSchema.optional(),
};

/**
 * A filter check: the parsed filter, or the broken rules (fields named with `prefix`): the first
 * hundred in `errors`, and how many in all in `total`.
 */
export type FilterCheck =
  | { ok: true; filter: DlqFilter }
  | { ok: false; errors: ItemError[]; total: number };

/**
 * Checks a dead-letter filter as sent (strings, from a query string, a JSON body or CLI flags)
 * and parses it. Pure. Every field narrows; no field selects every dead letter. A newer_than not
 * longer than older_than can match nothing, so it is refused as the mistake it almost surely is.
 */
export function checkFilter(input: unknown, prefix = ""): FilterCheck {
  const parsed = z.strictObject(filterShape).safeParse(input);
  if (!parsed.success) {
    const errors = describeIssues(parsed.error.issues, input, {
      index: 0,
      prefix,
      rules: filterRules,
    });
    return { ok: false, errors: errors.listed, total: errors.total };
  }
  const f = parsed.data;
  if (f.older_than !== undefined && f.newer_than !== undefined && f.newer_than <= f.older_than) {
    const field = `${prefix}newer_than`;
    return {
      ok: false,
      errors: [
        {
          index: 0,
          field,
          code: ItemErrorCode.invalid_value,
          message: `${field} must be longer than ${prefix}older_than: dead letters older than one and newer than the other cannot exist`,
        },
      ],
      total: 1,
    };
  }
  return {
    ok: true,
    filter: {
      code: f.code,
      customer: f.customer,
      eventName: f.event_name,
      olderThanMs: f.older_than,
      newerThanMs: f.newer_than,
    },
  };
}
