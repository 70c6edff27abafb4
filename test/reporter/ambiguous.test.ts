import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { backends, freshDatabase } from "../support/db.ts";
import {
  attemptOutcomes,
  declareMeter,
  emulator,
  linkedCustomers,
  pendingCount,
  reportedSums,
  reporter,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

describe.each(backends)("ambiguous and throttled answers, on %s", (kind) => {
  let database: Database;
  let env: Awaited<ReturnType<typeof emulator>>;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database.close());
  // A fresh emulator (and ledger) per case, and an empty outbox.
  beforeEach(async () => {
    env = await emulator();
    await database.db.delete(usageEventAttempts);
    await database.db.delete(usageEvents);
    await database.db.delete(customers);
    await database.db.delete(meters);
    return () => env.emu.close();
  });

  it("an ambiguous 500 (applied, then failed) is retried, and counted once in the ledger", async () => {
    const { db } = database;
    const { stripe, emu } = env;
    await declareMeter(db, stripe, "minutes");
    const linked = await linkedCustomers(db, stripe, "amb", 5);
    await insertEvents(
      db,
      Array.from({ length: 100 }, (_, i) => ({
        id: `min-${i}`,
        customerKey: linked[i % 5]?.key ?? "amb-0",
        eventName: "minutes",
        value: 10 + i,
        occurredAt: new Date(Date.now() - 120_000),
      })),
    );

    // Every request is applied, then answered with a 500 or a dropped connection.
    emu.setFaults({ pAmbiguous: 1 });
    const r = reporter(db, stripe, testSettings({ maxAttempts: 1_000 }));
    try {
      // A dropped connection is retried once by stripe-node itself (it does so even with
      // maxNetworkRetries 0), and that resend meets "already exists"; a 500 comes back to the
      // reporter as an ambiguous retry. Wait until every event was tried and some were ambiguous.
      await waitFor("every event tried, some ambiguously", async () => {
        const [row] = await rows<{ untried: number; ambiguous: number }>(
          db,
          sql`select count(*) filter (where first_attempt_at is null)::int as untried,
                count(*) filter (where first_ambiguous_at is not null)::int as ambiguous
              from usage_events`,
        );
        return row?.untried === 0 && (row?.ambiguous ?? 0) > 0;
      });
      emu.setFaults({ pAmbiguous: 0 });
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }

    expect(await statusCounts(db)).toEqual({ reported: 100 });
    const ledger = emu.ledger();
    expect(ledger.events).toHaveLength(100);
    expect(ledger.totals).toEqual(await reportedSums(db));
    // The resends met Stripe's "already exists": that is how the retry knew it was delivered.
    const outcomes = await attemptOutcomes(db);
    expect(outcomes.duplicate ?? 0).toBeGreaterThan(0);
    expect(outcomes.retry ?? 0).toBeGreaterThan(0);
    expect(outcomes.rejected ?? 0).toBe(0);
  });

  it("a duplicate-identifier 400 (Stripe already holds the event) → reported, counted once", async () => {
    const { db } = database;
    const { stripe, emu } = env;
    await declareMeter(db, stripe, "seats");
    const [c] = await linkedCustomers(db, stripe, "dup", 1);
    if (!c) throw new Error("no customer");
    const occurredAt = new Date(Date.now() - 60_000);
    // Someone (an earlier run whose answer was lost) already sent it, with the same identifier.
    await stripe.billing.meterEvents.create({
      event_name: "seats",
      payload: { stripe_customer_id: c.stripeId, value: "7" },
      identifier: "seat-1",
      timestamp: Math.floor(occurredAt.getTime() / 1000),
    });
    await insertEvents(db, [
      { id: "seat-1", customerKey: c.key, eventName: "seats", value: 7, occurredAt },
    ]);

    const r = reporter(db, stripe, testSettings());
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }

    expect(await statusCounts(db)).toEqual({ reported: 1 });
    expect(await attemptOutcomes(db)).toEqual({ duplicate: 1 });
    expect(emu.ledger().totals).toEqual([{ customer: c.stripeId, event_name: "seats", value: 7 }]);
  });
  it("429s slow the worker down without counting attempts: each event counts only its delivery", async () => {
    const { db } = database;
    const { stripe, emu } = env;
    await declareMeter(db, stripe, "pages");
    const linked = await linkedCustomers(db, stripe, "thr", 10);
    await insertEvents(
      db,
      Array.from({ length: 200 }, (_, i) => ({
        id: `page-${i}`,
        customerKey: linked[i % 10]?.key ?? "thr-0",
        eventName: "pages",
        value: 3,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    emu.setFaults({ p429: 0.5 });
    // maxAttempts 1: a single counted 429 would dead-letter the event.
    const r = reporter(db, stripe, testSettings({ maxAttempts: 1 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }
    expect(await statusCounts(db)).toEqual({ reported: 200 });
    const [sum] = await rows<{ attempts: number }>(
      db,
      sql`select sum(attempts)::int as attempts from usage_events`,
    );
    expect(sum?.attempts).toBe(200);
    expect((await attemptOutcomes(db)).throttled ?? 0).toBeGreaterThan(0);
    expect(emu.ledger().totals).toEqual(await reportedSums(db));
  });
});
