import { ErrorCode, ItemErrorCode } from "../lib/error-codes.ts";
import { ApiError, type ItemError } from "../lib/errors.ts";
import { ItemErrorList } from "../validation/item-error-list.ts";
import type { EventInput } from "./event-input.ts";

/**
 * How far ahead of the server's clock an event's timestamp may be, by default (config:
 * METERLINE_MAX_FUTURE_MINUTES). Stripe refuses meter events more than 5 minutes ahead of its
 * clock; those within the bound wait in pre-flight until Stripe takes them, while one days ahead
 * (a clock or unit bug) would wait for days in silence, so it is refused while the producer is
 * still on the line.
 */
export const MAX_FUTURE_MINUTES = 60;

// The instants Postgres timestamptz stores that RFC 3339 can write: years 0001 to 9999. An offset
// can push a valid-looking date outside them (0001-01-01T00:00:00+01:00 is in year 0).
const EARLIEST_MS = Date.parse("0001-01-01T00:00:00Z");
const LATEST_MS = Date.parse("9999-12-31T23:59:59.999Z");

/** What the database knows about the customers and meters a batch names. */
export interface KnownReferences {
  /** Customer key → status, for the customers that exist. */
  customers: ReadonlyMap<string, "active" | "deleted">;
  /** Event names that have a meter declared. */
  meters: ReadonlySet<string>;
}

/** A stored event's content, as read back to compare with a resent one. */
export interface StoredContent {
  id: string;
  customerKey: string;
  eventName: string;
  value: number;
  occurredAt: Date;
}

/** How many names a message lists before it says "and N more". */
const NAMED = 10;

/**
 * Why an event's own timestamp cannot be ingested, as an item error's code and message; null
 * when it can. Old timestamps are accepted: pre-flight dead-letters those Stripe would refuse,
 * with the reason, where an operator sees them.
 */
export function timestampError(
  occurredAt: Date,
  now: Date,
  field: string,
  maxFutureMinutes: number,
): Pick<ItemError, "code" | "message"> | null {
  const at = occurredAt.getTime();
  if (!(at >= EARLIEST_MS && at <= LATEST_MS)) {
    return {
      code: ItemErrorCode.timestamp_out_of_range,
      message: `${field} must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once its offset is applied`,
    };
  }
  if (at - now.getTime() > maxFutureMinutes * 60_000) {
    return {
      code: ItemErrorCode.timestamp_too_far_ahead,
      message: `${field} must be at most ${maxFutureMinutes} minutes ahead of the server's clock (it is ${occurredAt.toISOString()}; the server's clock reads ${now.toISOString()})`,
    };
  }
  return null;
}

/**
 * True when two events carry the same content. A defaulted timestamp is not content the producer
 * sent, so it is left out: a retry of an event without a timestamp is a duplicate, not a conflict.
 */
export function sameContent(
  a: Pick<EventInput, "customer" | "eventName" | "value" | "occurredAt" | "occurredAtDefaulted">,
  b: Pick<EventInput, "customer" | "eventName" | "value" | "occurredAt" | "occurredAtDefaulted">,
): boolean {
  const sameTime =
    a.occurredAtDefaulted ||
    b.occurredAtDefaulted ||
    a.occurredAt.getTime() === b.occurredAt.getTime();
  return (
    a.customer === b.customer && a.eventName === b.eventName && a.value === b.value && sameTime
  );
}

/**
 * Decides whether every event names a customer and a meter that exist (422 otherwise). Refusing
 * now, while the producer is still on the line, beats dead-lettering later an event nobody can
 * bill. An inactive meter is fine: its events wait in pre-flight. The code is the first problem
 * found, in the order unknown_customer, customer_deleted, unknown_event_name; `errors` has them all.
 * `batch` says whether fields are named `events[i].customer` or `customer`.
 */
export function referenceError(
  events: readonly EventInput[],
  known: KnownReferences,
  batch: boolean,
): ApiError | null {
  const problems = {
    unknown_customer: new Set<string>(),
    customer_deleted: new Set<string>(),
    unknown_event_name: new Set<string>(),
  };
  const errors = new ItemErrorList();
  for (const event of events) {
    const index = event.index;
    const prefix = batch ? `events[${index}].` : "";
    const status = known.customers.get(event.customer);
    if (status === undefined) {
      problems.unknown_customer.add(event.customer);
      errors.add(() =>
        item(
          index,
          `${prefix}customer`,
          ItemErrorCode.unknown_customer,
          `${prefix}customer "${event.customer}" does not exist (create it with PUT /v1/customers/:key)`,
        ),
      );
    } else if (status === "deleted") {
      problems.customer_deleted.add(event.customer);
      errors.add(() =>
        item(
          index,
          `${prefix}customer`,
          ItemErrorCode.customer_deleted,
          `${prefix}customer "${event.customer}" was deleted`,
        ),
      );
    }
    if (!known.meters.has(event.eventName)) {
      problems.unknown_event_name.add(event.eventName);
      errors.add(() =>
        item(
          index,
          `${prefix}event_name`,
          ItemErrorCode.unknown_event_name,
          `${prefix}event_name "${event.eventName}" has no meter (declare it with PUT /v1/meters/:event_name)`,
        ),
      );
    }
  }
  if (errors.total === 0) return null;

  const parts: string[] = [];
  if (problems.unknown_customer.size > 0)
    parts.push(`unknown customer ${names(problems.unknown_customer)}`);
  if (problems.customer_deleted.size > 0)
    parts.push(`deleted customer ${names(problems.customer_deleted)}`);
  if (problems.unknown_event_name.size > 0) {
    parts.push(`unknown event_name ${names(problems.unknown_event_name)} (no meter declared)`);
  }
  const code =
    (Object.keys(problems) as Array<keyof typeof problems>).find((k) => problems[k].size > 0) ??
    ErrorCode.unknown_customer;
  return new ApiError(422, code, `${parts.join("; ")}; nothing stored`, errors.details());
}

/**
 * Sorts the events the insert skipped (their id was already stored) into duplicates (same
 * content: a harmless retry) and conflicts (same id, other content: the producer reused an id).
 * An id missing from `stored` was there at insert time and is counted a duplicate.
 */
export function compareWithStored(
  skipped: readonly EventInput[],
  stored: readonly StoredContent[],
): { duplicates: number; conflicts: string[] } {
  const byId = new Map(stored.map((row) => [row.id, row]));
  const conflicts: string[] = [];
  for (const event of skipped) {
    const row = byId.get(event.id);
    if (row === undefined) continue;
    const storedEvent = {
      customer: row.customerKey,
      eventName: row.eventName,
      value: row.value,
      occurredAt: row.occurredAt,
      occurredAtDefaulted: false,
    };
    if (!sameContent(storedEvent, event)) conflicts.push(event.id);
  }
  return { duplicates: skipped.length - conflicts.length, conflicts };
}

/** 409 conflicting_event naming the reused ids. */
export function conflictError(ids: readonly string[]): ApiError {
  return new ApiError(
    409,
    ErrorCode.conflicting_event,
    `${ids.length} event id${ids.length === 1 ? " is" : "s are"} already stored with different content (customer, event_name, value or timestamp): ${names(new Set(ids))}; nothing stored`,
    { ids: [...ids] },
  );
}

function item(index: number, field: string, code: ItemErrorCode, message: string): ItemError {
  return { index, field, code, message };
}

function names(set: ReadonlySet<string>): string {
  const all = [...set];
  const shown = all
    .slice(0, NAMED)
    .map((n) => `"${n}"`)
    .join(", ");
  return all.length > NAMED ? `${shown} and ${all.length - NAMED} more` : shown;
}
