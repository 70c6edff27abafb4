import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { claim } from "../../src/outbox/claim.ts";
import { backends } from "../support/db.ts";
import {
  attemptOutcomes,
  declareMeter,
  linkedCustomers,
  pendingCount,
  reporter,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

/** What a SIGKILLed worker leaves behind: leases nobody renews, and no outcome. */
async function dieHolding(
  database: Database,
  owner: string,
  opts: { limit: number; suspects?: boolean },
): Promise<string[]> {
  const { events } = await claim(database.db, { owner, leaseMs: 1, ...opts });
  // Let the 1 ms lease run out on the database's clock.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return events.map((e) => e.id);
}

describe.each(backends)("rescue and crash loops, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("a worker killed while holding events: the next worker reports each once after the lease", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "rescued");
    const linked = await linkedCustomers(db, stripe, "resc", 5);
    await insertEvents(
      db,
      Array.from({ length: 100 }, (_, i) => ({
        id: `resc-${i}`,
        customerKey: linked[i % 5]?.key ?? "resc-0",
        eventName: "rescued",
        value: 2,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    // Killed once (a deploy, an OOM): one open claim each. Ordinary batch claims rescue them.
    const held = await dieHolding(suite.database, "killed", { limit: 100 });
    expect(held).toHaveLength(100);

    const r = reporter(db, stripe, testSettings({ id: "rescuer" }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }
    expect(await statusCounts(db)).toEqual({ reported: 100 });
    expect(emu.ledger().events.filter((e) => e.event_name === "rescued")).toHaveLength(100);
    const [c] = await rows<{ max: number; min: number; open: number }>(
      db,
      sql`select max(claims)::int as max, min(claims)::int as min, max(open_claims)::int as open
            from usage_events where event_name = 'rescued'`,
    );
    // Two claims (the dead one, the rescuer's), one outcome: the open count is back to 0.
    expect(c).toEqual({ min: 2, max: 2, open: 0 });
  });

  it("an event whose claims keep ending with the worker gone is dead-lettered as crash_loop; its batch-mates are reported", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "crashy");
    const [c] = await linkedCustomers(db, stripe, "crash", 1);
    const occurredAt = new Date(Date.now() - 60_000);
    const base = Date.now() - 3_600_000;
    await insertEvents(
      db,
      ["poison", "mate-1", "mate-2"].map((id, i) => ({
        id: `crash-${id}`,
        customerKey: c?.key ?? "crash-0",
        eventName: "crashy",
        value: 1,
        occurredAt,
        // The poison first in the queue, as it would be after its first crash.
        nextAttemptAt: new Date(base + i * 1000),
      })),
    );
    // Two workers die holding the batch: all three are suspects now (2 open claims).
    await dieHolding(suite.database, "dead-1", { limit: 10 });
    await dieHolding(suite.database, "dead-2", { limit: 10 });
    // Suspects are taken alone: three more workers die, each holding only the poison.
    for (let i = 3; i <= 5; i++) {
      expect(await dieHolding(suite.database, `dead-${i}`, { limit: 1, suspects: true })).toEqual([
        "crash-poison",
      ]);
    }

    const r = reporter(db, stripe, testSettings({ id: "survivor", crashLoopClaims: 5 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }
    const result = await rows<{
      id: string;
      status: string;
      code: string | null;
      attempts: number;
    }>(
      db,
      sql`select id, status, last_error_code as code, attempts from usage_events
          where event_name = 'crashy' order by id`,
    );
    expect(result).toEqual([
      { id: "crash-mate-1", status: "reported", code: null, attempts: 1 },
      { id: "crash-mate-2", status: "reported", code: null, attempts: 1 },
      { id: "crash-poison", status: "failed", code: "crash_loop", attempts: 0 },
    ]);
    // Never sent again once it was a crash loop: Stripe holds only the two mates.
    const sent = emu.ledger().events.filter((e) => e.event_name === "crashy");
    expect(sent.map((e) => e.identifier).sort()).toEqual(["crash-mate-1", "crash-mate-2"]);
    expect((await attemptOutcomes(db)).crash_loop).toBe(1);
  });

  it("an event whose first ambiguous attempt is 24 h old is never sent again: dedup_window_expired", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "stale");
    const [c] = await linkedCustomers(db, stripe, "stale", 1);
    await insertEvents(db, [
      {
        id: "stale-1",
        customerKey: c?.key ?? "stale-0",
        eventName: "stale",
        value: 9,
        occurredAt: new Date(Date.now() - 25 * 3_600_000),
      },
    ]);
    await db
      .update(usageEvents)
      .set({ attempts: 1, firstSentAt: sql`now() - interval '24 hours'` })
      .where(sql`${usageEvents.id} = 'stale-1'`);

    const r = reporter(db, stripe, testSettings({ id: "dedup" }));
    try {
      await waitFor("the event to settle", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }
    const [row] = await rows<{ status: string; code: string; message: string }>(
      db,
      sql`select status, last_error_code as code, last_error_message as message from usage_events where id = 'stale-1'`,
    );
    expect(row).toMatchObject({ status: "failed", code: "dedup_window_expired" });
    expect(row?.message).toMatch(/24 h/);
    expect(emu.ledger().events.some((e) => e.identifier === "stale-1")).toBe(false);
  });
});
