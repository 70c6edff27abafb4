import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { type DlqFilter, deadAt, dedupExpired, targetWhere } from "./dlq-where.ts";

/** One dead letter as the listing reads it (timestamps as ISO strings, UTC). */
export interface DeadLetterRow extends Record<string, unknown> {
  id: string;
  customer_key: string;
  event_name: string;
  value: number;
  occurred_at: string;
  /** When it became a dead letter. */
  dead_at: string;
  attempts: number;
  code: string | null;
  message: string | null;
  http_status: number | null;
  request_id: string | null;
  first_ambiguous_at: string | null;
  /** When its first request left: Stripe may hold it from then on. */
  first_sent_at: string | null;
  /** A plain retry would be refused: the first send is past the dedup window. */
  dedup_window_expired: boolean;
  /** dead_at to the microsecond: the keyset position of this row, for the next page's cursor. */
  position_at: string;
}

/** Where the previous page ended: the last row's position. */
export interface ListPosition {
  at: string;
  id: string;
}

/** What to list. */
export interface ListOptions {
  filter: DlqFilter;
  limit: number;
  /** Continue after this row (newest first); null for the first page. */
  after: ListPosition | null;
  dedupWindowMs: number;
}

/** A page of dead letters and how many match the filter in all. */
export interface DeadLetterPage {
  rows: DeadLetterRow[];
  /** Every dead letter the filter matches, on every page. */
  matched: number;
  /** True when rows beyond this page match. */
  more: boolean;
}

/** to_char in UTC with milliseconds (`ms`) or microseconds (`us`): both drivers return text. */
function iso(column: SQL, precision: "MS" | "US" = "MS"): SQL {
  return sql`to_char(${column} at time zone 'UTC', ${`YYYY-MM-DD"T"HH24:MI:SS.${precision}"Z"`})`;
}

/**
 * Lists dead letters matching a filter, newest first, one keyset page at a time (the cursor is
 * the last row's dead_at and id, so a page never repeats or skips a row as new ones arrive), and
 * counts every match. Two reads: the count may differ from the page by what changed in between.
 */
export async function listDeadLetters(db: Db, options: ListOptions): Promise<DeadLetterPage> {
  const where = targetWhere({ filter: options.filter });
  const after = options.after
    ? sql`and (${deadAt}, e.id) < (${options.after.at}::timestamptz, ${options.after.id}::text)`
    : sql``;
  const page = await rows<DeadLetterRow>(
    db,
    sql`
    select e.id, e.customer_key, e.event_name,
           -- bigint arrives as a string from pg; values are at most 2^53 − 1, exact in float8.
           e.value::float8 as value,
           ${iso(sql`e.occurred_at`)} as occurred_at,
           ${iso(deadAt)} as dead_at,
           e.attempts::int as attempts,
           e.last_error_code as code,
           e.last_error_message as message,
           e.last_http_status::int as http_status,
           e.last_request_id as request_id,
           ${iso(sql`e.first_ambiguous_at`)} as first_ambiguous_at,
           ${iso(sql`e.first_sent_at`)} as first_sent_at,
           ${dedupExpired(options.dedupWindowMs)} as dedup_window_expired,
           ${iso(deadAt, "US")} as position_at
      from usage_events e
     where ${where} ${after}
     order by ${deadAt} desc, e.id desc
     -- One more than asked: whether it exists says whether there is a next page.
     limit ${options.limit + 1}::int`,
  );
  const [count] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from usage_events e where ${where}`,
  );
  return {
    rows: page.slice(0, options.limit),
    matched: count?.n ?? 0,
    more: page.length > options.limit,
  };
}
