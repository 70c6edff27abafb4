import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { subscriptionItems } from "../../src/db/schema/subscription-items.ts";
import { putSubscriptionItem } from "../../src/ingest/customer-store.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { backends, freshDatabase } from "../support/db.ts";
import {
  emulator,
  KEY,
  pendingCount,
  reportedSums,
  reporterAllModes,
  testSettings,
} from "./harness.ts";
import { insertEvents, type SeedEvent, statusCounts, waitFor } from "./seed.ts";
import { subscribedItem } from "./subscriptions.ts";

const DAY = 24 * 3_600_000;
const EVENT = "api_calls";

describe.each(backends)("legacy usage records, on %s, against the emulator", (kind) => {
  let database: Database;
  let env: Awaited<ReturnType<typeof emulator>>;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    env = await emulator();
    // No Stripe meter: usage records are filed on a subscription item's metered price.
    await database.db.insert(meters).values({ eventName: EVENT, deliveryMode: "usage_records" });
  });
  afterAll(async () => {
    await env.emu.close();
    await database.close();
  });

  /** `n` customers subscribed now, linked in Meterline, with their items set (unless told). */
  async function subscribed(prefix: string, n: number, setItem = true) {
    const made: Array<{ key: string; stripeId: string; item: string }> = [];
    for (let i = 0; i < n; i++) {
      const { customer, item } = await subscribedItem(env.stripe, EVENT);
      made.push({ key: `${prefix}-${i}`, stripeId: customer, item });
    }
    const { db } = database;
    await db
      .insert(customers)
      .values(made.map((c) => ({ key: c.key, stripeCustomerId: c.stripeId })));
    if (setItem) {
      await db
        .insert(subscriptionItems)
        .values(
          made.map((c) => ({ customerKey: c.key, eventName: EVENT, subscriptionItemId: c.item })),
        );
    }
    return made;
  }

  it("poison pills among 1,000 healthy events: each healthy one counted once (ledger = sums), each poison one dead-lettered with a reason a person can act on", async () => {
    const { db } = database;
    const healthy = await subscribed("cust", 20);
    const [gone] = await subscribed("gone", 1);
    const [noItem] = await subscribed("noitem", 1, false);
    const [wrongItem] = await subscribed("wrong", 1, false);
    if (!gone || !noItem || !wrongItem) throw new Error("set-up failed");
    await db
      .update(customers)
      .set({ status: "deleted", deletedAt: new Date() })
      .where(sql`${customers.key} = ${gone.key}`);
    await db
      .insert(subscriptionItems)
      .values({ customerKey: wrongItem.key, eventName: EVENT, subscriptionItemId: "si_gone" });

    const now = Date.now();
    const head = new Date(now - 3_600_000);
    const poison: Array<SeedEvent & { reason: string; attempts: number }> = [];
    const add = (
      id: string,
      customerKey: string,
      occurredAt: Date,
      reason: string,
      attempts: number,
    ) =>
      poison.push({
        id,
        customerKey,
        eventName: EVENT,
        value: 1_000,
        occurredAt,
        nextAttemptAt: head,
        reason,
        attempts,
      });
    for (let i = 0; i < 3; i++) {
      add(`poison-deleted-${i}`, gone.key, new Date(now), "customer_deleted", 0);
      add(`poison-old-${i}`, "cust-0", new Date(now - 40 * DAY), "timestamp_too_old", 0);
      add(`poison-noitem-${i}`, noItem.key, new Date(now), "subscription_item_missing", 0);
      add(`poison-wrongitem-${i}`, wrongItem.key, new Date(now), "resource_missing", 1);
      // Before the subscription's current period (it started when the test subscribed).
      add(`poison-period-${i}`, "cust-1", new Date(now - 2 * DAY), "timestamp_outside_period", 1);
    }
    const good: SeedEvent[] = Array.from({ length: 1_000 }, (_, i) => ({
      id: `evt-${i}`,
      customerKey: healthy[i % 20]?.key ?? "cust-0",
      eventName: EVENT,
      value: (i % 7) + 1,
      occurredAt: new Date(now),
    }));
    await insertEvents(
      db,
      poison.map(({ reason: _r, attempts: _a, ...e }) => e),
    );
    await insertEvents(db, good);

    // Hold limit 0: a missing item fails at once instead of waiting a day.
    const r = reporterAllModes(db, env.stripe, testSettings({ unlinkedHoldMs: 0 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
      await r.drained();
    } finally {
      await r.stop();
    }

    expect(await statusCounts(db)).toEqual({ reported: 1_000, failed: 15 });
    const ledger = env.emu.ledger();
    expect(ledger.totals).toEqual(await reportedSums(db));
    expect(ledger.usage_records).toHaveLength(1_000);

    const failed = await rows<{ id: string; code: string; message: string; attempts: number }>(
      db,
      sql`select id, last_error_code as code, last_error_message as message, attempts
          from usage_events where status = 'failed' order by id`,
    );
    const expected = new Map(poison.map((p) => [p.id, p]));
    for (const f of failed) {
      expect(f.code, f.id).toBe(expected.get(f.id)?.reason);
      expect(f.attempts, f.id).toBe(expected.get(f.id)?.attempts);
    }
    expect(failed.map((f) => f.id).sort()).toEqual([...expected.keys()].sort());
    const message = (prefix: string) => failed.find((f) => f.id.startsWith(prefix))?.message ?? "";
    expect(message("poison-period")).toMatch(/current billing period.*invoice item/s);
    expect(message("poison-wrongitem")).toMatch(
      /PUT \/v1\/customers\/:key\/subscription_items\/api_calls/,
    );
    expect(message("poison-noitem")).toMatch(
      /PUT \/v1\/customers\/noitem-0\/subscription_items\/api_calls/,
    );
  });

  it("without a subscription item an event waits (not failed, nothing counted); setting the item sends it", async () => {
    const { db } = database;
    const [late] = await subscribed("late", 1, false);
    if (!late) throw new Error("set-up failed");
    await insertEvents(db, [
      { id: "late-1", customerKey: late.key, eventName: EVENT, value: 9, occurredAt: new Date() },
    ]);
    const r = reporterAllModes(db, env.stripe, testSettings());
    try {
      await waitFor("the event to wait for its item", async () => {
        const [e] = await rows<{ wait_reason: string | null }>(
          db,
          sql`select wait_reason from usage_events where id = 'late-1'`,
        );
        return e?.wait_reason === "subscription_item_missing";
      });
      const [waiting] = await rows<{ status: string; attempts: number }>(
        db,
        sql`select status, attempts from usage_events where id = 'late-1'`,
      );
      expect(waiting).toEqual({ status: "pending", attempts: 0 });
      await putSubscriptionItem(db, late.key, EVENT, late.item);
      await waitFor(
        "the event to be reported",
        async () => {
          const [e] = await rows<{ status: string }>(
            db,
            sql`select status from usage_events where id = 'late-1'`,
          );
          return e?.status === "reported";
        },
        10_000,
      );
    } finally {
      await r.stop();
    }
    expect(env.emu.ledger().totals).toContainEqual({
      customer: late.stripeId,
      event_name: EVENT,
      value: 9,
    });
  });

  it("an answer lost to a timeout is resent with the same Idempotency-Key: Stripe replays it, counted once", async () => {
    const { db } = database;
    const [c] = await subscribed("timeout", 1);
    if (!c) throw new Error("set-up failed");
    const impatient = createStripeClient({
      secretKey: KEY,
      apiBase: env.emu.url,
      timeoutMs: 300,
    });
    env.emu.setEndpointFaults("usage_records", { pTimeout: 1 });
    await insertEvents(db, [
      { id: "lost-1", customerKey: c.key, eventName: EVENT, value: 5, occurredAt: new Date() },
    ]);
    const r = reporterAllModes(db, impatient, testSettings());
    try {
      await waitFor("a first, ambiguous attempt", async () => {
        const [e] = await rows<{ attempts: number }>(
          db,
          sql`select attempts from usage_events where id = 'lost-1'`,
        );
        return (e?.attempts ?? 0) >= 1;
      });
      env.emu.clearEndpointFaults("usage_records");
      await waitFor(
        "the event to be reported",
        async () => {
          const [e] = await rows<{ status: string }>(
            db,
            sql`select status from usage_events where id = 'lost-1'`,
          );
          return e?.status === "reported";
        },
        10_000,
      );
    } finally {
      env.emu.clearEndpointFaults("usage_records");
      await r.stop();
    }
    const records = env.emu.ledger().usage_records.filter((u) => u.customer === c.stripeId);
    expect(records).toHaveLength(1);
    expect(env.emu.ledger().totals).toContainEqual({
      customer: c.stripeId,
      event_name: EVENT,
      value: 5,
    });
  });
});
