import { type SQL, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { extendLeasesStatement } from "../../src/outbox/extend-leases.ts";
import { markSentStatement } from "../../src/outbox/mark-sent.ts";
import { releaseStatement } from "../../src/outbox/release.ts";
import { settleStatement } from "../../src/outbox/settle.ts";
import { delivered } from "../reporter/fixtures.ts";
import { backends, seededDatabase } from "../support/db.ts";
import { planOf } from "../support/plans.ts";

/** `count` pending events, leased to w1 or not. */
const insertEvents = (leased: boolean, count = 20_000) => sql`
  insert into usage_events (id, customer_key, event_name, value, occurred_at,
    lease_owner, lease_expires_at, claims)
  select 'evt-' || g, 'cus-' || (g % 200), 'api_calls', 1, now(),
    ${leased ? "w1" : null}::text, now() + interval '1 hour', 1
    from generate_series(1, ${count}::int) g`;

/**
 * Statistics at their worst, each as an outbox meets them with no ANALYZE since it changed (on
 * PGlite, or on a server with autovacuum off).
 */
const leaseThree = sql`
  update usage_events set lease_owner = 'w1' where id in ('evt-1', 'evt-2', 'evt-3')`;

const scenarios: Record<string, SQL[]> = {
  // "status = 'pending'" looks rare: the planner read every pending row through
  // usage_events_customer_idx for a batch of three.
  "analyzed while empty, then 20,000 leased events": [
    sql`analyze usage_events`,
    insertEvents(true),
  ],
  // "lease_owner = $1" looks rare: the leased rows' index (between vacuums full of dead entries)
  // must not be read either.
  "20,000 events analyzed while none was leased, then three leased": [
    insertEvents(false),
    sql`analyze usage_events`,
    leaseThree,
  ],
  // Statistics right, on a small outbox: the batch's rows come from jsonb_to_recordset, which
  // the planner takes for 100 rows, and reading 10,000 rows looked cheaper than 100 probes of
  // the key (each v1 settle and mark read the whole outbox, until batchSize).
  "10,000 events analyzed, three of them leased": [
    insertEvents(false, 10_000),
    leaseThree,
    sql`analyze usage_events`,
  ],
};

/**
 * The statements that write a batch of events by id must find them by the primary key, whatever
 * the planner's statistics say (by-id-guards.ts).
 */
describe.each(
  backends.flatMap((kind) => Object.keys(scenarios).map((scenario) => ({ kind, scenario }))),
)("by-id statements on $kind, $scenario", ({ kind, scenario }) => {
  const database = seededDatabase(kind, scenarios[scenario] ?? []);

  const three = [1, 2, 3].map((n) => ({ id: `evt-${n}`, claims: 1, attempts: 0 }));
  const statements = {
    "mark-sent": () => markSentStatement("w1", three),
    settle: () => settleStatement("w1", three.map(delivered)),
    heartbeat: () => extendLeasesStatement("w1", ["evt-1", "evt-2", "evt-3"], 60_000),
    release: () => releaseStatement("w1", three),
  };

  for (const [name, statement] of Object.entries(statements)) {
    it.each(["custom", "generic"] as const)(
      `${name} reads usage_events by its primary key only (%s plan)`,
      async (mode) => {
        const text = await planOf(database(), statement(), mode);
        const indexes = [...text.matchAll(/"Index Name":\s*"(usage_events_[a-z_]+)"/g)].map(
          (m) => m[1],
        );
        expect(indexes).toContain("usage_events_pkey");
        expect(indexes.filter((i) => i !== "usage_events_pkey")).toEqual([]);
        expect(text).not.toMatch(/"Seq Scan"[^}]*"Relation Name":\s*"usage_events"/);
      },
    );
  }
});
