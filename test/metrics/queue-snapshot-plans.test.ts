import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { queueSnapshot, snapshotStatements } from "../../src/ops/queue-snapshot.ts";
import { backends, seededDatabase } from "../support/db.ts";

// A scrape every 15 s must not read every row ever billed: 50,000 reported events beside a
// handful that need a person. Each statement is bounded by a partial index (queue-snapshot.ts).
describe.each(backends)("the metrics' queue snapshot, on %s", (kind) => {
  const seeded = seededDatabase(kind, [
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status, reported_at)
          select 'done-' || g, 'cus-' || (g % 200), 'api_calls', 1, now(), 'reported', now()
            from generate_series(1, 50000) g`,
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, received_at,
            status, wait_reason, last_error_code, lease_owner, lease_expires_at, next_attempt_at)
          values
          ('due-1', 'a', 'api_calls', 1, now(), now() - interval '10 minutes', 'pending', null, null, null, null, now() - interval '5 minutes'),
          ('held-1', 'a', 'api_calls', 1, now(), now() - interval '1 minute', 'pending', null, null, 'w1', now() + interval '1 minute', now()),
          ('wait-1', 'b', 'api_calls', 1, now(), now() - interval '2 hours', 'pending', 'customer_unlinked', null, null, null, now() + interval '1 hour'),
          ('dead-1', 'c', 'api_calls', 1, now(), now(), 'failed', null, 'customer_deleted', null, null, now())`,
    sql`analyze usage_events`,
  ]);

  for (const [name, statement] of Object.entries(snapshotStatements)) {
    it(`${name}: reads usage_events through an index, never the whole table`, async () => {
      const plan = JSON.stringify(await rows(seeded().db, sql`explain (format json) ${statement}`));
      expect(plan).not.toContain('"Seq Scan"');
      expect(plan).toContain("usage_events_");
    });
  }

  it("counts what needs a person, and the lag from the head of the due index", async () => {
    const s = await queueSnapshot(seeded().db, 60_000);
    expect(
      s.pending
        .map((p) => [p.waitReason, p.leased, p.n])
        .sort((a, b) => String(a).localeCompare(String(b))),
    ).toEqual([
      ["customer_unlinked", false, 1],
      ["none", false, 1],
      ["none", true, 1],
    ]);
    expect(s.oldestPendingAgeS).toBeGreaterThanOrEqual(7_199);
    expect(s.oldestDueAgeS).toBeGreaterThanOrEqual(299);
    expect(s.oldestDueAgeS).toBeLessThan(400);
    expect(s.deadLetters).toEqual([{ code: "customer_deleted", n: 1 }]);
  });
});
