import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { claimDueStatement } from "../../src/outbox/claim.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { planOf } from "../support/plans.ts";

// The defect: the claim picked its events in "where e.id in (select … limit n for update skip
// locked)", a subquery the planner may run again for each candidate row; a run that comes after
// this statement has updated a row skips that row and takes the next. A halted worker's probe
// asked for one event, got two, sent one, and held the other (lease renewed, never sent) until
// it stopped. Now the pick is a materialized CTE: evaluated once, whatever the plan (PostgreSQL
// runs a WITH query's subplan at most once per statement).
describe.each(backends)("the due claim's pick, on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database?.close());

  for (const mode of ["custom", "generic"] as const) {
    it(`is one CTE, scanned once by the update (${mode} plan)`, async () => {
      const plan = await planOf(database, claimDueStatement("w1", 60_000, 1), mode);
      expect(plan).toContain('"Subplan Name":"CTE picked"');
      expect(plan).toContain('"Node Type":"CTE Scan"');
      // The LIMIT and the row locks are inside the CTE, not in a subquery of the update.
      expect(plan).not.toContain("ANY_subquery");
    });
  }
});
