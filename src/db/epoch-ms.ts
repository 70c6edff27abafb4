import { type SQL, sql } from "drizzle-orm";

/**
 * A timestamptz expression as epoch milliseconds (float8; null stays null). The hot statements
 * return times this way: the driver parses a number for a fraction of the cost of a
 * timestamptz's text, and a Date keeps milliseconds either way.
 */
export function epochMs(expression: SQL): SQL {
  return sql`(extract(epoch from ${expression}) * 1000)::float8`;
}

/**
 * What epochMs() returned, as a Date (null stays null). The drivers may give the float8 as a
 * number or as its text.
 */
export function dateFromEpochMs(value: unknown): Date | null {
  return value === null || value === undefined ? null : new Date(Number(value));
}
