import { type SQL, sql } from "drizzle-orm";

/**
 * CTEs that take events away from the usage_event_requests rows they name: `from` is a CTE
 * (the statement's own) with a `delivered_by` column, one row per event leaving (retention
 * removes it, an asynchronous rejection gives it its own attempt rows). Each request row loses
 * them from its count, and a row that loses its last event is deleted with it.
 *
 * The rows are locked first, in id order, and the counts read from the locked rows: a request
 * row a concurrent statement has just changed is read as that statement left it (FOR UPDATE
 * waits, then returns the latest version), so the update and the delete decide on the count
 * as it stands. Decided on the statement's snapshot instead, two statements taking a request's
 * events at once (retention and an asynchronous rejection, or two rejections) could each see
 * the other's events still counted: the one that took the last events then neither updated
 * (the re-checked count was no longer above its share) nor deleted (the snapshot's count was),
 * and the row stayed with events that no event names (test/outbox/request-rows-race.test.ts).
 */
export function releaseRequestRows(from: string): SQL {
  return sql.raw(`request_counts as (
      select delivered_by as id, count(*)::int as n from ${from}
       where delivered_by is not null group by delivered_by
    ),
    request_locked as materialized (
      select r.id, r.events, c.n from usage_event_requests r join request_counts c on c.id = r.id
       order by r.id
       for update of r
    ),
    requests_kept as (
      update usage_event_requests r set events = l.events - l.n
        from request_locked l where r.id = l.id and l.events > l.n
      returning r.id
    ),
    requests_gone as (
      delete from usage_event_requests r using request_locked l
       where r.id = l.id and l.events <= l.n
      returning r.id
    )`);
}
