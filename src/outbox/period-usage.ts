import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

/** What Meterline knows of one (customer, meter)'s usage in a billing period. */
export interface PeriodUsage {
  /** Sum of the values reported (Stripe counted them, or a person said so). */
  reported: number;
  /**
   * Events of the period, other than the one being verified, that Stripe may hold without
   * Meterline knowing: sent at least once, not reported, and not refused by Stripe under their
   * key (a stored 400 or 404 applied nothing). A send that never got an answer counts: first_sent_at says so.
   */
  uncertain: number;
  /** The sum of their values. */
  uncertainValue: number;
  /** Their values, one each, the largest first (reporter/verify-stored.ts weighs their subsets). */
  uncertainValues: number[];
  /**
   * A digest of every event of the period that Stripe may hold (sent at least once, or
   * reported): its id, status and last answer. Two reads with the same digest saw nothing of
   * the pair sent or settled in between, whichever worker did it.
   */
  moves: string;
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
  const [row] = await rows<{
    reported: number;
    uncertain_values: Array<number | string> | null;
    moves: string;
  }>(
    db,
    sql`
    with e as (
      -- A 400 or 404 is what Stripe stored under the event's key (the idempotency layer stores
      -- the first execution's answer): the record was not applied. A 401 or 429 comes before
      -- that layer and says nothing of an earlier send, so it stays uncertain. So does a dead
      -- letter with no status at all (a send never answered, refused after Stripe's dedup
      -- window): "is not true" keeps a null status from making the whole test null, which the
      -- filters below would read as "not uncertain".
      select e.*, (e.status <> 'reported' and e.first_sent_at is not null
          and (e.status = 'failed' and e.last_http_status in (400, 404)) is not true
          ) as uncertain
        from usage_events e
       where e.customer_key = ${q.customerKey}
         and e.event_name = ${q.eventName}
         and e.occurred_at >= ${q.start.toISOString()}::timestamptz
         and e.occurred_at < ${q.end.toISOString()}::timestamptz
         and e.id <> ${q.excludeId}
    )
    select coalesce(sum(e.value) filter (where e.status = 'reported'), 0)::float8 as reported,
           array_agg(e.value::float8 order by e.value desc) filter (where e.uncertain)
             as uncertain_values,
           -- An event ingested meanwhile but never sent changes nothing Stripe holds: left out,
           -- so a busy producer does not make every verification look disturbed.
           md5(coalesce(string_agg(e.id || ':' || e.status || ':' ||
                 coalesce(e.last_http_status::text, '-'), ',' order by e.id)
               filter (where e.first_sent_at is not null or e.status = 'reported'), '')) as moves
      from e`,
  );
  const uncertainValues = (row?.uncertain_values ?? []).map(Number);
  return {
    reported: Number(row?.reported ?? 0),
    uncertain: uncertainValues.length,
    uncertainValue: uncertainValues.reduce((a, b) => a + b, 0),
    uncertainValues,
    moves: row?.moves ?? "",
  };
}
