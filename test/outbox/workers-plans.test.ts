import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { claimDueStatement, claimRescuesStatement } from "../../src/outbox/claim.ts";
import { otherWorkerAliveSql } from "../../src/outbox/workers.ts";
import { backends, seededDatabase } from "../support/db.ts";
import { planOf, seqScansOf } from "../support/plans.ts";

// Every claim asks whether another worker is alive (outbox/claim.ts pairOwner). Worker rows are
// never deleted, and a restarted worker's default id is new: after months of deploys the table
// holds thousands of rows long gone. 20,000 of them here, and two live workers.
describe.each(backends)("whether another worker is alive, on %s", (kind) => {
  const seeded = seededDatabase(kind, [
    sql`insert into workers (id, host, pid, started_at, last_seen_at)
          select 'old-' || g, 'h', g, now() - interval '90 days',
                 now() - interval '90 days' + g * interval '1 minute'
            from generate_series(1, 20000) g`,
    sql`insert into workers (id, host, pid) values ('w-1', 'h', 1), ('w-2', 'h', 2)`,
    sql`analyze workers`,
  ]);

  const ask = (owner: string) => sql`select ${otherWorkerAliveSql(owner, 60_000)} as alive`;

  it("sees the other live worker, and none when the other has stopped", async () => {
    const db = seeded().db;
    const [both] = await rows<{ alive: boolean }>(db, ask("w-1"));
    expect(both?.alive).toBe(true);
    await db.execute(sql`update workers set stopped_at = now() where id = 'w-2'`);
    try {
      const [alone] = await rows<{ alive: boolean }>(db, ask("w-1"));
      expect(alone?.alive).toBe(false);
    } finally {
      await db.execute(sql`update workers set stopped_at = null where id = 'w-2'`);
    }
  });

  // Both plans: the claim that asks is a prepared statement (db/prepared.ts), run on its generic
  // plan once reused.
  it.each(["custom", "generic"] as const)(
    "reads the recent heartbeats through workers_last_seen_idx, not every row (%s plan)",
    async (mode) => {
      const plan = await planOf(seeded(), ask("w-1"), mode);
      expect(plan).toContain("workers_last_seen_idx");
      expect(seqScansOf(plan, "workers")).toEqual([]);
    },
  );

  it.each([
    ["the queue's claim", claimDueStatement("w-1", 60_000, 100)],
    ["the rescue", claimRescuesStatement("w-1", 60_000, 100, false)],
  ])("%s asks it through workers_last_seen_idx on its generic plan", async (_name, statement) => {
    const plan = await planOf(seeded(), statement, "generic");
    expect(plan).toContain("workers_last_seen_idx");
    expect(seqScansOf(plan, "workers")).toEqual([]);
  });
});
