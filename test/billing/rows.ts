import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { ATTEMPT_HISTORY } from "../../src/outbox/attempt-history.ts";

/** One event's row, as the tests read it. */
export interface EventRow extends Record<string, unknown> {
  status: string;
  last_error_code: string | null;
  last_error_message: string | null;
  lease_owner: string | null;
  wait_reason: string | null;
  failed: boolean;
}

/** The event's status, last error, lease and whether failed_at is set; throws when it is missing. */
export async function eventRow(db: Db, id: string): Promise<EventRow> {
  const [row] = await rows<EventRow>(
    db,
    sql`select status, last_error_code, last_error_message, lease_owner, wait_reason,
          failed_at is not null as failed
        from usage_events where id = ${id}`,
  );
  if (!row) throw new Error(`no usage event ${id}`);
  return row;
}

/** An event's attempt rows, oldest first. */
export async function attemptsOf(
  db: Db,
  id: string,
): Promise<
  Array<{ outcome: string; worker: string; stripe_code: string | null; message: string }>
> {
  return rows(
    db,
    sql`select outcome, worker, stripe_code, coalesce(message, '') as message
        from ${ATTEMPT_HISTORY} a where event_id = ${id} order by id`,
  );
}

/** The recorded rejection of an identifier, or undefined. */
export async function rejectionOf(
  db: Db,
  identifier: string,
): Promise<{ code: string; stripe_event_id: string } | undefined> {
  const [row] = await rows<{ code: string; stripe_event_id: string }>(
    db,
    sql`select code, stripe_event_id from async_rejections where identifier = ${identifier}`,
  );
  return row;
}
