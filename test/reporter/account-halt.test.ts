import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { backends } from "../support/db.ts";
import {
  attemptOutcomes,
  declareMeter,
  KEY,
  linkedCustomers,
  pendingCount,
  reportedSums,
  reporter,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

describe.each(backends)("a 401 from Stripe for a while, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("halts the account: nothing dead-lettered, no attempt counted; everything reported once it clears", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "tokens");
    const linked = await linkedCustomers(db, stripe, "acct", 10);
    await insertEvents(
      db,
      Array.from({ length: 300 }, (_, i) => ({
        id: `tok-${i}`,
        customerKey: linked[i % 10]?.key ?? "acct-0",
        eventName: "tokens",
        value: i + 1,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );

    emu.revokeKey(KEY);
    const r = reporter(db, stripe, testSettings());
    try {
      await waitFor("the halt", async () => r.status().halted !== null);
      expect(r.status().halted?.reason).toMatch(/401/);
      // Let it probe a few times while the key stays revoked.
      await waitFor("three probes", async () => ((await attemptOutcomes(db)).halted ?? 0) >= 3);

      expect(await statusCounts(db)).toEqual({ pending: 300 });
      const counted = async () => {
        const [row] = await rows<{ attempts: number; leased: number }>(
          db,
          sql`select coalesce(sum(attempts), 0)::int as attempts,
                count(*) filter (where lease_owner is not null)::int as leased from usage_events`,
        );
        return row;
      };
      expect((await counted())?.attempts).toBe(0);
      // Halted: at most the probe's event and sends that were already in flight hold a lease.
      // Waited for, not read once: a claim that began before the halt gives its events back
      // only once its statement returns, and on a loaded machine that can be after the third
      // probe. A worker that kept them would keep them: the wait would run out.
      await waitFor(
        "leases given back",
        async () => ((await counted())?.leased ?? 0) <= testSettings().concurrency,
      );
      expect(emu.ledger().events).toEqual([]);

      emu.restoreKey(KEY);
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
      expect(r.status().halted).toBeNull();
    } finally {
      await r.stop();
    }

    expect(await statusCounts(db)).toEqual({ reported: 300 });
    expect(emu.ledger().totals).toEqual(await reportedSums(db));
    expect(emu.ledger().events).toHaveLength(300);
    // Every event counted exactly its one delivering attempt; halted probes counted nothing.
    const [sum] = await rows<{ attempts: number; halted_counted: number }>(
      db,
      sql`select (select sum(attempts)::int from usage_events) as attempts,
            (select count(*)::int from usage_event_attempts where outcome = 'halted' and attempt > 0) as halted_counted`,
    );
    expect(sum).toEqual({ attempts: 300, halted_counted: 0 });
  });
});
