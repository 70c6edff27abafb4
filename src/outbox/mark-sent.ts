import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { epochMs } from "../db/epoch-ms.ts";
import { preparedRows } from "../db/prepared.ts";
import { claimRefRows, stillPending } from "./by-id-guards.ts";

/** An event about to be sent, with the claim it is leased by. */
export interface SendRef {
  id: string;
  claims: number;
}

/**
 * Records, BEFORE a request leaves, that Stripe may hold these events from now on: sets
 * first_sent_at where it is unset, in one statement for the batch. Whatever then becomes of the
 * answer (a SIGKILL, a shutdown abandon, a lost lease record none), the dedup window counts from
 * here. Returns the database time written for each event this worker may still send: an event
 * missing from the result lost its lease (or its status) and must not be sent.
 */
export async function markSent(
  db: Db,
  owner: string,
  events: SendRef[],
): Promise<Map<string, Date>> {
  if (events.length === 0) return new Map();
  const marked = await preparedRows<{ id: string; first_sent_ms: number | string }>(
    db,
    "meterline_mark_sent",
    markSentStatement(owner, events),
  );
  return new Map(marked.map((m) => [m.id, new Date(Number(m.first_sent_ms))]));
}

/** markSent's one statement (exported so that a test can read its plan). */
export function markSentStatement(owner: string, events: SendRef[]): SQL {
  return sql`
    update usage_events as e set
      -- Never moved once set: the window counts from the FIRST send (invariant 5).
      first_sent_at = coalesce(e.first_sent_at, now())
    from ${claimRefRows(events)}
    where e.id = r.id
      -- Still ours, from that very claim: a lost lease means another worker sends it now.
      and e.lease_owner = ${owner}
      and e.claims = r.claims
      -- Found by id only, whatever the statistics say (by-id-guards.ts).
      and ${stillPending}
    returning e.id, ${epochMs(sql`e.first_sent_at`)} as first_sent_ms`;
}
