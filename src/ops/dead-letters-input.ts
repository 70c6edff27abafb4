import { z } from "zod";
import { eventIdSchema, fieldRules } from "../ingest/event-input.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import type { ListPosition } from "../outbox/dlq-list.ts";
import { MATCHED_IDS_MAX } from "../outbox/dlq-statement.ts";
import type { DlqFilter, DlqTarget } from "../outbox/dlq-where.ts";
import { listError } from "../validation/item-error-list.ts";
import { parseBody } from "../validation/parse-body.ts";
import { parseQuery } from "../validation/parse-query.ts";
import { oneError, requireIdsOrFilter } from "../validation/target-body.ts";
import { checkFilter, filterFields, filterRules, filterShape } from "./dead-letters-filter.ts";

/** Rows per page of GET /v1/dead-letters: default and most. */
export const LIST_LIMIT = { default: 50, max: 500 } as const;
/** Events one retry, discard or resolve changes (one statement): default and most. */
export const ACTION_LIMIT = { default: 1000, max: 10_000 } as const;

/** The operator actions on dead letters. */
export type DlqActionName = "retry" | "discard" | "resolve";

/** GET /v1/dead-letters, parsed. */
export interface ListQuery {
  filter: DlqFilter;
  limit: number;
  after: ListPosition | null;
}

/** POST /v1/dead-letters/:action, parsed. */
export interface ActionInput {
  target: DlqTarget;
  dryRun: boolean;
  limit: number;
  note: string | null;
  /** Retry only, named ids only: the person checked Stripe does not hold these events. */
  notInStripe: boolean;
}

/** Encodes a page's last position as an opaque next_cursor. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString("base64url");
}

/**
 * Decodes a next_cursor; null when it is not one. A cursor comes back from the client, so it is
 * checked as input: its position must be a real instant (a forged "2025-02-30" or year 0000 would
 * make Postgres refuse the query) and an event id.
 */
export function decodeCursor(cursor: string): ListPosition | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [at, id] = value;
    if (typeof at !== "string" || !realInstant(at)) return null;
    return typeof id === "string" && eventIdSchema.safeParse(id).success ? { at, id } : null;
  } catch {
    return null;
  }
}

/** True for a position's timestamp as encodeCursor writes it, naming an instant that exists. */
function realInstant(at: string): boolean {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(at) || at.startsWith("0000")) return false;
  // Date.parse rolls some impossible dates over (or refuses them): either way the round trip fails.
  const ms = Date.parse(`${at.slice(0, 23)}Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === at.slice(0, 19);
}

const queryKeys = [...filterFields, "limit", "cursor"] as const;
const queryShape = z.strictObject(
  Object.fromEntries(queryKeys.map((k) => [k, z.string().optional()])),
);
const queryRules: Record<string, string> = {
  ...Object.fromEntries(filterFields.map((k) => [k, "must be given once"])),
  limit: `must be a whole number from 1 to ${LIST_LIMIT.max}`,
  cursor: "must be the next_cursor of a previous page",
};

/**
 * GET /v1/dead-letters' query as the API reference shows it: the filter's own schemas (which
 * checkFilter runs), and limit and cursor as parseListQuery checks them.
 */
export const listQueryDoc = z.strictObject({
  ...filterShape,
  limit: z.int().min(1).max(LIST_LIMIT.max).default(LIST_LIMIT.default),
  cursor: z.string(),
});

/** The rule of each query parameter, for the API reference. */
export const listQueryRules: Readonly<Record<string, string>> = { ...filterRules, ...queryRules };

/** Parses GET /v1/dead-letters' query string, or throws 400 invalid_query naming the parameter. */
export function parseListQuery(query: unknown): ListQuery {
  const { limit: rawLimit, cursor: rawCursor, ...rest } = parseQuery(queryShape, query, queryRules);
  const checked = checkFilter(rest);
  if (!checked.ok) throw listError(ErrorCode.invalid_query, checked.errors, checked.total);
  let limit: number = LIST_LIMIT.default;
  if (rawLimit !== undefined) {
    limit = /^\d{1,4}$/.test(rawLimit) ? Number(rawLimit) : 0;
    if (limit < 1 || limit > LIST_LIMIT.max) {
      throw listError(ErrorCode.invalid_query, oneError("limit", `limit ${queryRules.limit}`));
    }
  }
  let after: ListPosition | null = null;
  if (rawCursor !== undefined) {
    after = decodeCursor(rawCursor);
    if (after === null) {
      throw listError(ErrorCode.invalid_cursor, oneError("cursor", `cursor ${queryRules.cursor}`));
    }
  }
  return { filter: checked.filter, limit, after };
}

const commonBody = {
  ids: z.array(eventIdSchema).min(1).max(MATCHED_IDS_MAX).optional(),
  filter: z.unknown().optional(),
  dry_run: z.boolean().optional(),
  limit: z.number().int().min(1).max(ACTION_LIMIT.max).optional(),
  note: z.string().trim().min(1).max(500).optional(),
};
const bodySchemas = {
  retry: z.strictObject({ ...commonBody, confirm_not_in_stripe: z.boolean().optional() }),
  discard: z.strictObject(commonBody),
  resolve: z.strictObject(commonBody),
};
const bodyRules = {
  ids: `must be a list of 1 to ${MATCHED_IDS_MAX} event ids, each ${fieldRules.id}`,
  filter: "must be a JSON object of dead-letter filters",
  dry_run: "must be true or false",
  limit: `must be a whole number from 1 to ${ACTION_LIMIT.max}`,
  note: "must be a string of 1 to 500 characters",
  confirm_not_in_stripe: "must be true or false",
};

/** The body of POST /v1/dead-letters/:action as the API reference shows it, filter included. */
export function actionBodyDoc(action: DlqActionName) {
  return bodySchemas[action].extend({ filter: z.strictObject(filterShape).optional() });
}

/** The rule of each body field (and filter field), for the API reference. */
export const actionBodyRules: Readonly<Record<string, string>> = { ...filterRules, ...bodyRules };

/**
 * Parses the body of POST /v1/dead-letters/:action, or throws 400 invalid_body naming the field
 * and the rule. Exactly one of `ids` (the events) and `filter` (which dead letters; `{}` is all).
 */
export function parseActionBody(action: DlqActionName, body: unknown): ActionInput {
  const b = parseBody<z.infer<typeof bodySchemas.retry>>(bodySchemas[action], body, bodyRules);
  requireIdsOrFilter(
    b.ids !== undefined,
    b.filter !== undefined,
    "dead letters ({} selects every one)",
  );
  let target: DlqTarget;
  if (b.ids !== undefined) {
    target = { ids: [...new Set(b.ids)] };
  } else {
    const checked = checkFilter(b.filter, "filter.");
    if (!checked.ok) throw listError(ErrorCode.invalid_body, checked.errors, checked.total);
    target = { filter: checked.filter };
  }
  const notInStripe = b.confirm_not_in_stripe === true;
  if (notInStripe && b.ids === undefined) {
    throw listError(
      ErrorCode.invalid_body,
      oneError(
        "confirm_not_in_stripe",
        "confirm_not_in_stripe needs ids: it is a person's check, in Stripe, of each named event",
      ),
    );
  }
  return {
    target,
    dryRun: b.dry_run === true,
    limit: b.limit ?? ACTION_LIMIT.default,
    note: b.note ?? null,
    notInStripe,
  };
}
