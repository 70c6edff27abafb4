import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";

/** A row for usage_events, as a producer (or an old one writing straight to the table) would. */
export interface SeedEvent {
  id: string;
  customerKey: string;
  eventName: string;
  value: number;
  occurredAt: Date;
  /** Defaults to now; earlier puts it at the head of the queue. */
  nextAttemptAt?: Date;
}

/** Inserts events in chunks (one statement per chunk). */
export async function insertEvents(db: Db, events: SeedEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    await db.insert(usageEvents).values(events.slice(i, i + 500));
  }
}

/** Counts of events by status; of one event name's events only, when given one. */
export async function statusCounts(db: Db, eventName?: string): Promise<Record<string, number>> {
  const only = eventName === undefined ? sql`` : sql`where event_name = ${eventName}`;
  const result = await rows<{ status: string; n: number }>(
    db,
    sql`select status, count(*)::int as n from usage_events ${only} group by status`,
  );
  return Object.fromEntries(result.map((r) => [r.status, r.n]));
}

// The reporter tests' wait, kept importable from here where they always found it.
export { waitFor } from "../support/wait.ts";
