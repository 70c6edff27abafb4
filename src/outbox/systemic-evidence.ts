import { param, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

/**
 * Whether Stripe delivered an event of another customer (any worker, any process) after the
 * events `ids` last met `code`: a rejection, a probe that met it behind the circuit, or the
 * systemic revert that took them back. For events meeting `code` again, that is the evidence a
 * restarted worker's memory lacks: the account worked for others after they last failed with
 * it, so failing with it again is their own doing (reporter/judge.ts). False when they never
 * met it. A read: it changes nothing. One index range of the attempts' key per event, and the
 * reported events' BRIN range since then, stopping at the first.
 */
export async function deliveredSinceMet(
  db: Db,
  q: { ids: string[]; code: string; customerKeys: string[] },
): Promise<boolean> {
  const [row] = await rows<{ delivered: boolean }>(
    db,
    sql`
    with met as (
      select max(a.started_at) as at from usage_event_attempts a
      where a.event_id = any(${param(q.ids)}::text[]) and a.stripe_code = ${q.code}
    )
    select exists (
      select 1 from usage_events r, met
      where r.status = 'reported' and r.reported_at > met.at
        and r.customer_key <> all(${param(q.customerKeys)}::text[])
    ) as delivered`,
  );
  return row?.delivered === true;
}
