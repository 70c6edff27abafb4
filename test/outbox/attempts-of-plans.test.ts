import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { attemptsOf, attemptsOfStatement } from "../../src/outbox/attempt-history.ts";
import { backends, seededDatabase } from "../support/db.ts";
import { planOf, seqScansOf } from "../support/plans.ts";

// 40,000 reported events: half delivered by a request row shared with another (10,000 rows),
// half with an attempt row of their own, and one event with both (a retry, then a shared
// delivery). Trace reads one event's history: through the keys of all three tables, never by
// reading a table.
describe.each(backends)("one event's attempts (trace) on %s", (kind) => {
  const seeded = seededDatabase(kind, [
    sql`insert into usage_event_requests (id, worker, outcome, http_status, started_at, events)
          select 1000000 + g, 'w1', 'delivered', 200, now(), 2 from generate_series(0, 9999) g`,
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status,
            attempts, reported_at, delivered_by)
          select 'evt-' || g, 'cus-' || (g % 200), 'api_calls', 1, now(), 'reported', 1, now(),
                 case when g <= 20000 then 1000000 + (g - 1) / 2 end
            from generate_series(1, 40000) g`,
    sql`insert into usage_event_attempts (event_id, attempt, worker, outcome, http_status, started_at)
          select id, 1, 'w1', 'delivered', 200, now() from usage_events where delivered_by is null`,
    // evt-7 was retried once before its shared delivery: its own row is written first.
    sql`insert into usage_event_attempts (id, event_id, attempt, worker, outcome, http_status, started_at)
          values (1, 'evt-7', 1, 'w0', 'retry', 500, now() - interval '1 minute')`,
    sql`update usage_events set attempts = 2 where id = 'evt-7'`,
    sql`analyze`,
  ]);

  it("reads its own rows and its request row by their keys, in the order they were written", async () => {
    const history = await attemptsOf(seeded().db, "evt-7");
    expect(history.map((a) => [a.id, a.eventId, a.attempt, a.outcome, a.httpStatus])).toEqual([
      [1, "evt-7", 1, "retry", 500],
      // The request row: its id, this event's id and count of attempts.
      [1000003, "evt-7", 2, "delivered", 200],
    ]);
    expect(history[1]?.startedAt).toBeInstanceOf(Date);
    expect(await attemptsOf(seeded().db, "evt-30000")).toMatchObject([
      { eventId: "evt-30000", attempt: 1, outcome: "delivered" },
    ]);
    expect(await attemptsOf(seeded().db, "no-such-event")).toEqual([]);
  });

  it("reads no table whole (custom plan, as trace runs it)", async () => {
    const plan = await planOf(seeded(), attemptsOfStatement("evt-7"), "custom");
    for (const table of ["usage_events", "usage_event_attempts", "usage_event_requests"]) {
      expect(seqScansOf(plan, table), table).toEqual([]);
    }
  });
});
