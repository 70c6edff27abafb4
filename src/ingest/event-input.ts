import { z } from "zod";
import { ErrorCode, ItemErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import { describeIssues, isObject, shownName } from "../validation/describe-issues.ts";
import { ItemErrorList } from "../validation/item-error-list.ts";
import { pgText } from "../validation/text.ts";
import { MAX_FUTURE_MINUTES, sameContent, timestampError } from "./event-checks.ts";
import { type EventFields, plainEvent } from "./event-fast-path.ts";

/** Most events one request may carry: it bounds one transaction and one insert statement. */
export const MAX_BATCH = 1000;

/** 9999-12-31T23:59:59Z in Unix seconds. Anything larger is almost surely milliseconds sent by mistake. */
export const MAX_UNIX_SECONDS = 253_402_300_799;

/** The producer's event id: it becomes Stripe's identifier, so it keeps to Stripe-safe characters. */
export const eventIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._:-]+$/);

/** The platform's customer key, as producers send it and as `/v1/customers/:key` names it. */
export const customerKeySchema = pgText().min(1).max(255);

/** A meter's event name (Stripe caps event_name at 100 characters). */
export const eventNameSchema = pgText().min(1).max(100);

/** The sentence after the field name when a rule is broken; shared with the meter and customer routes. */
export const fieldRules = {
  id: "must be a string of 1 to 100 characters from A-Z a-z 0-9 . _ : -",
  customer: "must be a customer key: a string of 1 to 255 characters",
  event_name: "must be a string of 1 to 100 characters",
  value:
    "must be a whole number ≥ 0 and at most 2^53 − 1 (9007199254740991), sent as a JSON number",
  timestamp:
    "must be an RFC 3339 date-time with offset (e.g. 2025-01-31T12:00:00Z) or whole Unix seconds (not milliseconds); omit it to mean now",
} as const;

/** One event item. Strict: a typo'd field silently ignored is how usage goes missing. */
export const eventSchema = z.strictObject({
  id: eventIdSchema,
  customer: customerKeySchema,
  event_name: eventNameSchema,
  // JSON has one number type: 5.0 arrives as 5 and is whole; "5" is a string and is refused.
  value: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  timestamp: z
    .union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(MAX_UNIX_SECONDS)])
    .optional(),
});

/** One valid usage event, ready to store. */
export interface EventInput {
  /** Position in the request (0 for a lone event), for messages that point at it. */
  index: number;
  id: string;
  customer: string;
  eventName: string;
  value: number;
  /** The event's own time; the time of receipt when the producer sent none. */
  occurredAt: Date;
  /** True when the producer sent no timestamp: a retry then matches whatever time was stored. */
  occurredAtDefaulted: boolean;
}

/** The outcome of validating a request body: unique events and how many repeats were folded. */
export type EventsParse =
  | {
      ok: true;
      events: EventInput[];
      /** Items that repeated an earlier item of the batch exactly: counted as duplicates. */
      repeats: number;
      /** True for `{"events": [...]}`: fields are then named `events[i].field`. */
      batch: boolean;
    }
  | { ok: false; error: ApiError };

/** How many stray keys beside "events" a message names. */
const NAMED_KEYS = 5;

const bodyShape = `one event object or {"events": [...]} with 1 to ${MAX_BATCH} events`;

/** The bounds parseEvents checks beyond the shape. */
export interface EventLimits {
  /** How far ahead of `now` a timestamp may be (METERLINE_MAX_FUTURE_MINUTES). */
  maxFutureMinutes: number;
}

/**
 * Validates a POST /v1/events body: one event object, or `{"events": [...]}`. Pure: `now` is the
 * server's clock, the default timestamp and what "ahead" is measured from. Every item is checked
 * and every error counted, so a producer fixes a batch in one round; the first hundred are
 * described. Repeats of an id inside the batch fold into one event when identical and are an
 * error when not.
 */
export function parseEvents(
  body: unknown,
  now: Date,
  limits: EventLimits = { maxFutureMinutes: MAX_FUTURE_MINUTES },
): EventsParse {
  if (!isObject(body)) return bodyError("body", `body must be ${bodyShape}`);
  const batch = Object.hasOwn(body, "events");
  if (batch) {
    const extra = Object.keys(body).filter((k) => k !== "events");
    if (extra[0] !== undefined) {
      // Named, not all listed: a body may carry thousands of stray keys.
      const named = extra.slice(0, NAMED_KEYS).map(shownName).join(", ");
      const more = extra.length > NAMED_KEYS ? ` and ${extra.length - NAMED_KEYS} more` : "";
      return bodyError(
        shownName(extra[0]),
        `${named}${more}: not allowed beside "events" (body must be ${bodyShape})`,
      );
    }
  }
  if (batch && !Array.isArray(body.events)) {
    return bodyError("events", `events must be an array of 1 to ${MAX_BATCH} event objects`);
  }
  const items: unknown[] = batch && Array.isArray(body.events) ? body.events : [body];
  if (items.length < 1 || items.length > MAX_BATCH) {
    return bodyError("events", `events must hold 1 to ${MAX_BATCH} events (got ${items.length})`);
  }

  const errors = new ItemErrorList();
  const events: EventInput[] = [];
  // id → the first item that carried it.
  const seen = new Map<string, EventInput>();
  let repeats = 0;
  items.forEach((item, index) => {
    const prefix = batch ? `events[${index}].` : "";
    // The common valid item skips the schema (event-fast-path.ts); the rest meets it.
    let data: EventFields | null = plainEvent(item, MAX_UNIX_SECONDS);
    if (data === null) {
      const parsed = eventSchema.safeParse(item);
      if (!parsed.success) {
        describeIssues(parsed.error.issues, item, { index, prefix, rules: fieldRules }, errors);
        return;
      }
      data = parsed.data;
    }
    const event = toEvent(data, index, now);
    if (!event.occurredAtDefaulted) {
      const field = `${prefix}timestamp`;
      const wrong = timestampError(event.occurredAt, now, field, limits.maxFutureMinutes);
      if (wrong !== null) {
        errors.add(() => ({ index, field, ...wrong }));
        return;
      }
    }
    const first = seen.get(event.id);
    if (first === undefined) {
      seen.set(event.id, event);
      events.push(event);
    } else if (sameContent(first, event)) {
      repeats++;
    } else {
      errors.add(() => ({
        index,
        field: `${prefix}id`,
        code: ItemErrorCode.conflicting_id,
        message: `${prefix}id "${event.id}" repeats events[${first.index}].id with different content`,
      }));
    }
  });
  if (errors.total > 0) return { ok: false, error: invalidEvents(errors) };
  return { ok: true, events, repeats, batch };
}

function toEvent(data: EventFields, index: number, now: Date): EventInput {
  const { timestamp } = data;
  const occurredAt =
    timestamp === undefined
      ? now
      : typeof timestamp === "number"
        ? new Date(timestamp * 1000)
        : new Date(timestamp);
  return {
    index,
    id: data.id,
    customer: data.customer,
    eventName: data.event_name,
    value: data.value,
    occurredAt,
    occurredAtDefaulted: timestamp === undefined,
  };
}

function bodyError(field: string, message: string): EventsParse {
  return { ok: false, error: new ApiError(400, ErrorCode.invalid_body, message, { field }) };
}

/** 400 invalid_events: the count and the first few messages in the summary, the first 100 in `errors`. */
function invalidEvents(errors: ItemErrorList): ApiError {
  const { total } = errors;
  const summary = `${total} invalid field${total === 1 ? "" : "s"}, nothing stored: ${errors.summary()}`;
  const only = total === 1 ? errors.listed[0] : undefined;
  return new ApiError(400, ErrorCode.invalid_events, summary, {
    ...(only ? { field: only.field } : {}),
    ...errors.details(),
  });
}
