import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { type UsageEvent, usageEvents } from "../../src/db/schema/usage-events.ts";

const HOUR = 3_600_000;

/** A dead letter (or, with `status`, any event) written straight into the outbox. */
export async function insertEvent(
  db: Db,
  id: string,
  over: Partial<typeof usageEvents.$inferInsert> & { failedHoursAgo?: number } = {},
): Promise<void> {
  const { failedHoursAgo = 1, ...rest } = over;
  const failedAt = new Date(Date.now() - failedHoursAgo * HOUR);
  await db.insert(usageEvents).values({
    id,
    customerKey: "acme",
    eventName: "api_calls",
    value: 3,
    occurredAt: new Date(failedAt.getTime() - 60_000),
    status: "failed",
    attempts: 2,
    claims: 2,
    lastErrorCode: "customer_deleted",
    lastErrorMessage: `customer "acme" was deleted`,
    lastHttpStatus: 400,
    failedAt,
    ...rest,
  });
}

/** Empties the outbox and the audit trail between tests (one database per suite). */
export async function resetOutbox(db: Db): Promise<void> {
  await db.delete(usageEventAttempts);
  await db.delete(usageEvents);
}

/** An event row by id. */
export async function eventRow(db: Db, id: string): Promise<UsageEvent | undefined> {
  const [row] = await db.select().from(usageEvents).where(sql`${usageEvents.id} = ${id}`);
  return row;
}

/** Audit rows of an event, oldest first. */
export async function auditRows(
  db: Db,
  id: string,
): Promise<Array<{ attempt: number; worker: string; outcome: string; message: string | null }>> {
  return rows(
    db,
    sql`select attempt, worker, outcome, message from usage_event_attempts
         where event_id = ${id} order by id`,
  );
}

/** Every event's status, by id: a snapshot to compare before and after a dry run. */
export async function statuses(db: Db): Promise<Record<string, string>> {
  const all = await rows<{ id: string; status: string; attempts: number }>(
    db,
    sql`select id, status, attempts from usage_events order by id`,
  );
  return Object.fromEntries(all.map((r) => [r.id, `${r.status}/${r.attempts}`]));
}
