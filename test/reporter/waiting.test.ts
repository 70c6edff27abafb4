import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { METER_WAITS, wakeWaiting } from "../../src/outbox/wake.ts";
import { backends } from "../support/db.ts";
import {
  declareMeter,
  pendingCount,
  reportedSums,
  reporter,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

/** Pending events by wait reason, with their counted attempts and audit rows. */
async function waiting(database: Database) {
  return rows<{ reason: string; n: number; attempts: number; audit: number; claims: number }>(
    database.db,
    sql`select e.wait_reason as reason, count(*)::int as n, sum(e.attempts)::int as attempts,
          min(e.claims)::int as claims,
          sum((select count(*) from usage_event_attempts a where a.event_id = e.id))::int as audit
        from usage_events e where e.status = 'pending' group by 1 order by 1`,
  );
}

describe.each(backends)("events that wait (customer and meter scope), on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("wait without being failed or counted, one audit row each however often rechecked, and go once the cause is fixed", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    // A meter whose payload key in Meterline does not match Stripe's meter: Stripe refuses
    // every event of it (meter scope), which must park them, not dead-letter them.
    await declareMeter(db, stripe, "gpu");
    await db.update(meters).set({ customerPayloadKey: "cust" }).where(eq(meters.eventName, "gpu"));
    await declareMeter(db, stripe, "storage");
    await db.update(meters).set({ status: "inactive" }).where(eq(meters.eventName, "storage"));
    await declareMeter(db, stripe, "cpu");
    const linked = await stripe.customers.create({ name: "linked" });
    const later = await stripe.customers.create({ name: "later" });
    await db.insert(customers).values([
      { key: "linked", stripeCustomerId: linked.id },
      { key: "later", stripeCustomerId: null },
    ]);
    const at = new Date(Date.now() - 60_000);
    const events = (prefix: string, customerKey: string, eventName: string) =>
      Array.from({ length: 5 }, (_, i) => ({
        id: `${prefix}-${i}`,
        customerKey,
        eventName,
        value: 2,
        occurredAt: at,
      }));
    await insertEvents(db, [
      ...events("unlinked", "later", "cpu"),
      ...events("inactive", "linked", "storage"),
      ...events("mismatch", "linked", "gpu"),
      ...events("unknown", "linked", "ram"),
    ]);

    const r = reporter(db, stripe, testSettings({ backoffMaxMs: 50 }));
    try {
      // Rechecked several times (the recheck interval is backoffMaxMs).
      await waitFor("several rechecks", async () =>
        (await waiting(suite.database)).every((w) => w.claims >= 4),
      );
      expect(await waiting(suite.database)).toEqual([
        { reason: "customer_unlinked", n: 5, attempts: 0, audit: 5, claims: expect.any(Number) },
        { reason: "meter_inactive", n: 5, attempts: 0, audit: 5, claims: expect.any(Number) },
        {
          reason: "meter_rejected",
          n: 5,
          attempts: 0,
          audit: expect.any(Number),
          claims: expect.any(Number),
        },
        { reason: "meter_unknown", n: 5, attempts: 0, audit: 5, claims: expect.any(Number) },
      ]);
      expect(await statusCounts(db)).toEqual({ pending: 20 });

      // Fix every cause, as the API does it, and wake the events.
      await db
        .update(customers)
        .set({ stripeCustomerId: later.id })
        .where(eq(customers.key, "later"));
      await wakeWaiting(db, { customerKey: "later" }, ["customer_unlinked"]);
      await db.update(meters).set({ status: "active" }).where(eq(meters.eventName, "storage"));
      await db
        .update(meters)
        .set({ customerPayloadKey: "stripe_customer_id" })
        .where(eq(meters.eventName, "gpu"));
      await declareMeter(db, stripe, "ram");
      for (const eventName of ["storage", "gpu", "ram"]) {
        await wakeWaiting(db, { eventName }, METER_WAITS);
      }
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }
    expect(await statusCounts(db)).toEqual({ reported: 20 });
    expect(emu.ledger().totals).toEqual(await reportedSums(db));
  });
});
