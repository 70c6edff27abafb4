import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { claimRescuesStatement, suspectDueStatement } from "../../src/outbox/claim.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { planOf, seqScansOf } from "../support/plans.ts";

// The statements that find expired leases, and the rescue's removal of finished claim rows, read
// the events of the claims whose lease time has passed (usage_event_claims), by key. Planned as a join, the planner once chose to scan the
// whole of usage_events for them: 30 ms a rescue at 100,000 pending events, with no claim
// expired at all (the outbox bench's claims went from 52 to 137 µs per event).
describe.each(backends)("the lease statements' plans, on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    await database.db.execute(sql`
      insert into usage_events (id, customer_key, event_name, value, occurred_at)
      select 'e' || g, 'c' || (g % 200), 'm', 1, now() from generate_series(1, 20000) g`);
    await database.db.execute(sql`analyze usage_events`);
  });
  afterAll(() => database?.close());

  const statements = {
    rescue: claimRescuesStatement("w1", 60_000, 400, false),
    "suspect rescue": claimRescuesStatement("w1", 60_000, 1, true),
    "suspect check": suspectDueStatement,
  };
  for (const [name, statement] of Object.entries(statements)) {
    for (const mode of ["custom", "generic"] as const) {
      it(`${name} never scans usage_events whole (${mode} plan)`, async () => {
        const plan = await planOf(database, statement, mode);
        expect(seqScansOf(plan, "usage_events")).toEqual([]);
      });
    }
  }
});
