import { type SQL, sql } from "drizzle-orm";

/**
 * CTEs that take events away from the usage_event_requests rows they name: `from` is a CTE
 * (the statement's own) with a `delivered_by` column, one row per event leaving (retention
 * removes it, an asynchronous rejection gives it its own attempt rows). Each request row loses
 * them from its count, and a row that loses its last event is deleted with it.
 *
 * The update and the delete take disjoint rows of the statement's snapshot. A request row a
 * concurrent statement changes is re-checked by the update (it waits, then reads the row
 * anew); were it to fall out of both, it would stay with a count too high: an audit row kept
 * too long, never one removed while an event still names it.
 */
export function releaseRequestRows(from: string): SQL {
  return sql.raw(`request_counts as (
      select delivered_by as id, count(*)::int as n from ${from}
       where delivered_by is not null group by delivered_by
    ),
    requests_kept as (
      update usage_event_requests r set events = r.events - c.n
        from request_counts c where r.id = c.id and r.events > c.n
      returning r.id
    ),
    requests_gone as (
      delete from usage_event_requests r using request_counts c
       where r.id = c.id and r.events <= c.n
      returning r.id
    )`);
}
