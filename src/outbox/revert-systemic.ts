import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

/**
 * Returns to pending the events Stripe rejected with `code` within the last `windowMs`
 * (database clock), by any worker: once a rejection is judged systemic (our bug or Stripe's,
 * not the events'), those dead letters were never the events' fault. The attempt the
 * rejection charged is given back, an attempt row `systemic_reverted` says so, and the events
 * wait behind the circuit (wait_reason systemic_halt). Returns the ids reverted.
 */
export async function revertSystemic(
  db: Db,
  owner: string,
  code: string,
  windowMs: number,
): Promise<string[]> {
  const reverted = await rows<{ id: string }>(
    db,
    sql`
    with back as (
      update usage_events as e set
        status = 'pending',
        attempts = greatest(e.attempts - 1, 0),
        open_claims = 0,
        next_attempt_at = now(),
        wait_reason = 'systemic_halt',
        failed_at = null
      where e.status = 'failed'
        and e.last_error_code = ${code}
        -- Rejected by Stripe (a pre-flight failure has no HTTP status), within the window.
        and e.last_http_status is not null
        and e.failed_at >= now() - ${windowMs}::float8 * interval '1 millisecond'
      returning e.id, e.attempts
    ),
    logged as (
      insert into usage_event_attempts (event_id, attempt, worker, outcome, stripe_code, message, started_at)
      select id, attempts, ${owner}, 'systemic_reverted', ${code},
        'rejected with ' || ${code} || ' like events of many other customers at the same time: ' ||
        'systemic (a deployment, configuration or Stripe problem), not this event; returned to ' ||
        'pending without charging the attempt',
        now()
      from back
    )
    select id from back`,
  );
  return reverted.map((r) => r.id);
}
