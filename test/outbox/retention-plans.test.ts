import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { statsStatement } from "../../src/ops/stats.ts";
import { eventCounts } from "../../src/outbox/event-counts.ts";
import { removeBatchStatement } from "../../src/outbox/retention.ts";
import { backends, seededDatabase } from "../support/db.ts";
import { planOf, seqScansOf } from "../support/plans.ts";

const DAY = 86_400_000;

// 60,000 reported events with an attempt each (most older than the horizon) over 300 customers beside a few that need
// a person: a retention batch and stats must reach what they need through indexes, never by
// reading every reported row.
describe.each(backends)("retention's and stats' plans, on %s", (kind) => {
  const seeded = seededDatabase(kind, [
    sql`insert into customers (key) select 'cus-' || g from generate_series(0, 299) g`,
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status, reported_at)
          select 'done-' || g, 'cus-' || (g % 300), 'api_calls', 1,
                 now() - (g % 60) * interval '1 day', 'reported', now() - (g % 60) * interval '1 day'
            from generate_series(1, 60000) g`,
    sql`insert into usage_event_attempts (event_id, attempt, worker, outcome, started_at)
          select id, 1, 'w', 'delivered', reported_at from usage_events`,
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status,
            wait_reason, last_error_code, lease_owner, lease_expires_at)
          values ('due-1', 'cus-1', 'api_calls', 1, now(), 'pending', null, null, null, null),
                 ('held-1', 'cus-1', 'api_calls', 1, now(), 'pending', null, null, 'w1', now() + interval '1 minute'),
                 ('dead-1', 'cus-2', 'api_calls', 1, now(), 'failed', null, 'customer_deleted', null, null)`,
    sql`analyze`,
  ]);

  const span = () => ({
    start: Date.now() - 50 * DAY,
    end: Date.now() - 40 * DAY,
    reportedBefore: Date.now() - 30 * DAY,
  });

  for (const mode of ["custom", "generic"] as const) {
    it(`a retention batch finds its rows by usage_events_customer_idx (${mode} plan)`, async () => {
      const plan = await planOf(
        seeded(),
        removeBatchStatement(span(), "reported", "cus-100", 2000),
        mode,
      );
      expect(seqScansOf(plan, "usage_events")).toEqual([]);
      expect(seqScansOf(plan, "usage_event_attempts")).toEqual([]);
      expect(plan).toContain("usage_events_customer_idx");
    });
  }

  it("stats' pending and failed figures read partial indexes only", async () => {
    const plan = await planOf(seeded(), statsStatement, "custom");
    expect(seqScansOf(plan, "usage_events")).toEqual([]);
    expect(plan).toContain("usage_events_due_idx");
    expect(plan).toContain("usage_events_leased_idx");
    expect(plan).toContain("usage_events_dead_letter_idx");
  });

  it("a batch removes no more than asked, and the counts say how many went", async () => {
    const { db } = seeded();
    const [r] = await rows<{ picked: number; reported: number }>(
      db,
      removeBatchStatement(span(), "reported", "", 500),
    );
    expect(r).toMatchObject({ picked: 500, reported: 500 });
    expect((await eventCounts(db)).removed_reported).toBe(500);
  });
});
