import { type SQL, sql } from "drizzle-orm";
import { ago } from "./dlq-where.ts";

/** A filter over pending events, parsed: every field set narrows the selection. */
export interface PendingFilter {
  /** The platform's customer key. */
  customer?: string | undefined;
  /** The meter's event_name. */
  eventName?: string | undefined;
  /** wait_reason equals this (timestamp_in_future, customer_unlinked, retry, …). */
  waitReason?: string | undefined;
  /** Received at least this long ago (database clock). */
  olderThanMs?: number | undefined;
  /** Received at most this long ago (database clock). */
  newerThanMs?: number | undefined;
}

/** Which pending events an operator means: the events they named, or every one a filter matches. */
export type PendingTarget = { ids: string[] } | { filter: PendingFilter };

/**
 * True for an event (usage_events as `e`) a worker holds right now: its lease has not expired by
 * the database clock. Such an event may be on its way to Stripe this very moment. An expired
 * lease is no one's: the worker that held it stopped (or froze) and the claim will take it again.
 */
export const leasedNow = sql.raw("(e.lease_expires_at is not null and e.lease_expires_at > now())");

/** The event ids of a named target as one jsonb parameter: one placeholder, any count. */
export function namedIds(ids: readonly string[]): SQL {
  return sql`(select jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;
}

/**
 * The WHERE clause that selects a filter's pending events from usage_events aliased `e`. Ages
 * count from received_at: a pending event has no other time of its own that every row has
 * (occurred_at is the producer's, and may be in 2100).
 */
export function pendingWhere(filter: PendingFilter): SQL {
  // Only pending events: reported, failed and discarded ones are never touched here.
  const parts: SQL[] = [sql`e.status = 'pending'`];
  // usage_events_customer_idx (customer_key, status) serves the common "this customer" case.
  if (filter.customer !== undefined) parts.push(sql`e.customer_key = ${filter.customer}`);
  if (filter.eventName !== undefined) parts.push(sql`e.event_name = ${filter.eventName}`);
  if (filter.waitReason !== undefined) parts.push(sql`e.wait_reason = ${filter.waitReason}`);
  if (filter.olderThanMs !== undefined) {
    parts.push(sql`e.received_at <= ${ago(filter.olderThanMs)}`);
  }
  if (filter.newerThanMs !== undefined) {
    parts.push(sql`e.received_at >= ${ago(filter.newerThanMs)}`);
  }
  return sql.join(parts, sql` and `);
}
