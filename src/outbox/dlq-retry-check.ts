import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { oldestAccepted } from "../reporter/preflight.ts";
import { type DlqTarget, deadAt, targetWhere } from "./dlq-where.ts";
import type { DeadLetterCode } from "./reasons.ts";

/** The causes a retry can find still there: the event would fail again with this code. */
export const RETRY_CAUSES = [
  "timestamp_too_old",
  "customer_not_found",
  "customer_deleted",
  "subscription_item_missing",
] as const satisfies readonly DeadLetterCode[];

/** A cause a retried event would fail with again. */
export type RetryCause = (typeof RETRY_CAUSES)[number];

/** How many retried events each cause would fail again; only causes with at least one. */
export type RetryCauseCounts = Partial<Record<RetryCause, number>>;

/** What the check reads of one dead letter about to be retried, and of what it names. */
export interface RetryCheckRow {
  id: string;
  occurredAt: Date;
  /** The customer's status; null when no customer has the event's key. */
  customerStatus: "active" | "deleted" | null;
  /** The meter reports legacy usage records, which need a subscription item per customer. */
  needsItem: boolean;
  /** A subscription item is set for the event's customer and meter. */
  hasItem: boolean;
}

/**
 * The cause that would fail the event again at its next pre-flight or send, or null. The same
 * order and rules as pre-flight (reporter/preflight.ts): age first, then the customer, then the
 * usage-records item. Pure.
 */
export function causeOf(
  row: RetryCheckRow,
  now: Date,
  timestampMarginMs: number,
): RetryCause | null {
  if (row.occurredAt.getTime() < oldestAccepted(now, timestampMarginMs)) return "timestamp_too_old";
  if (row.customerStatus === null) return "customer_not_found";
  if (row.customerStatus === "deleted") return "customer_deleted";
  if (row.needsItem && !row.hasItem) return "subscription_item_missing";
  return null;
}

/** Counts, per cause, the rows that would fail again. Pure. */
export function countCauses(
  checked: readonly RetryCheckRow[],
  now: Date,
  timestampMarginMs: number,
): RetryCauseCounts {
  const counts: RetryCauseCounts = {};
  for (const row of checked) {
    const cause = causeOf(row, now, timestampMarginMs);
    if (cause !== null) counts[cause] = (counts[cause] ?? 0) + 1;
  }
  return counts;
}

interface Raw extends Record<string, unknown> {
  id: string;
  occurred_at: string | Date;
  customer_status: "active" | "deleted" | null;
  needs_item: boolean;
  has_item: boolean;
}

/**
 * Reads, in one statement, what the check needs of the dead letters a retry takes: the same
 * selection and order as its batch (outbox/dlq-statement.ts), so the counts are about the events
 * the retry changes (or, on a dry run, the first batch it would).
 */
export async function readRetryCheck(
  db: Db,
  target: DlqTarget,
  refuse: SQL,
  limit: number,
): Promise<RetryCheckRow[]> {
  const found = await rows<Raw>(
    db,
    sql`select e.id, e.occurred_at, c.status as customer_status,
               coalesce(m.delivery_mode = 'usage_records', false) as needs_item,
               si.customer_key is not null as has_item
          from usage_events e
          left join customers c on c.key = e.customer_key
          left join meters m on m.event_name = e.event_name
          left join subscription_items si
            on si.customer_key = e.customer_key and si.event_name = e.event_name
         where ${targetWhere(target)} and not ${refuse}
         order by ${deadAt}, e.id
         limit ${limit}::int`,
  );
  return found.map((r) => ({
    id: r.id,
    occurredAt: new Date(r.occurred_at),
    customerStatus: r.customer_status,
    needsItem: r.needs_item,
    hasItem: r.has_item,
  }));
}
