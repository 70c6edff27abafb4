import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

/** What Meterline knows of one (customer, meter)'s usage in a billing period. */
export interface PeriodUsage {
  /** Sum of the values reported (Stripe counted them, or a person said so). */
  reported: number;
  /**
   * Events of the period, other than the one being verified, that Stripe may hold without
   * Meterline knowing: sent at least once and not reported (pending, or failed after an
   * ambiguous answer). While any exists, Stripe's total cannot single out one event.
   */
  uncertain: number;
}

/**
 * Meterline's side of a usage-record verification (reporter/verify-stored.ts): the reported sum
 * and the uncertain events of `customerKey` × `eventName` whose occurred_at falls in
 * [start, end), leaving out `excludeId`. A read: it changes nothing.
 */
export async function periodUsage(
  db: Db,
  q: { customerKey: string; eventName: string; start: Date; end: Date; excludeId: string },
): Promise<PeriodUsage> {
  const [row] = await rows<{ reported: number; uncertain: number }>(
    db,
    sql`
    select coalesce(sum(e.value) filter (where e.status = 'reported'), 0)::float8 as reported,
           (count(*) filter (where e.status <> 'reported' and e.first_sent_at is not null
              and (e.status = 'pending' or e.first_ambiguous_at is not null)))::int as uncertain
      from usage_events e
     where e.customer_key = ${q.customerKey}
       and e.event_name = ${q.eventName}
       and e.occurred_at >= ${q.start.toISOString()}::timestamptz
       and e.occurred_at < ${q.end.toISOString()}::timestamptz
       and e.id <> ${q.excludeId}`,
  );
  return { reported: Number(row?.reported ?? 0), uncertain: Number(row?.uncertain ?? 0) };
}
