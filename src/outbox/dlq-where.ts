import { type SQL, sql } from "drizzle-orm";

/** A dead-letter filter, parsed: every field set narrows the selection; none selects them all. */
export interface DlqFilter {
  /** last_error_code equals this (customer_deleted, timestamp_too_old, …). */
  code?: string | undefined;
  /** The platform's customer key. */
  customer?: string | undefined;
  /** The meter's event_name. */
  eventName?: string | undefined;
  /** Dead-lettered at least this long ago (database clock). */
  olderThanMs?: number | undefined;
  /** Dead-lettered at most this long ago (database clock). */
  newerThanMs?: number | undefined;
}

/** Which dead letters an operator means: the events they named, or every one a filter matches. */
export type DlqTarget = { ids: string[] } | { filter: DlqFilter };

/**
 * When an event became a dead letter. failed_at is set by every settle that fails an event; the
 * fallback keeps a row written without it (by hand, or by older code) orderable and filterable.
 */
export const deadAt = sql.raw("coalesce(e.failed_at, e.received_at)");

/** `ms` before the database's now(), so every host judges ages by one clock. */
export function ago(ms: number): SQL {
  return sql`now() - ${ms}::float8 * interval '1 millisecond'`;
}

/**
 * True for an event (usage_events as `e`) first sent longer ago than the dedup window: Stripe
 * may hold it and no longer dedups its identifier, so a resend could bill it twice. The same rule
 * as the reporter's (reporter/decide.ts dedupWindowExpired).
 */
export function dedupExpired(dedupWindowMs: number): SQL {
  return sql`(e.first_sent_at is not null and e.first_sent_at <= ${ago(dedupWindowMs)})`;
}

/** The WHERE clause that selects the target's dead letters from usage_events aliased `e`. */
export function targetWhere(target: DlqTarget): SQL {
  // Only failed events are dead letters: pending, reported and discarded ones are never touched.
  const parts: SQL[] = [sql`e.status = 'failed'`];
  if ("ids" in target) {
    // The ids travel as one jsonb parameter, like the settle batch: one placeholder, any count.
    parts.push(
      sql`e.id in (select jsonb_array_elements_text(${JSON.stringify(target.ids)}::jsonb))`,
    );
    return sql.join(parts, sql` and `);
  }
  const f = target.filter;
  // usage_events_dead_letter_idx (last_error_code, failed_at; failed rows only) serves "by code".
  if (f.code !== undefined) parts.push(sql`e.last_error_code = ${f.code}`);
  if (f.customer !== undefined) parts.push(sql`e.customer_key = ${f.customer}`);
  if (f.eventName !== undefined) parts.push(sql`e.event_name = ${f.eventName}`);
  if (f.olderThanMs !== undefined) parts.push(sql`${deadAt} <= ${ago(f.olderThanMs)}`);
  if (f.newerThanMs !== undefined) parts.push(sql`${deadAt} >= ${ago(f.newerThanMs)}`);
  return sql.join(parts, sql` and `);
}
