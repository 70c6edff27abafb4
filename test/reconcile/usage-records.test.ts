import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { subscriptionItems } from "../../src/db/schema/subscription-items.ts";
import { runReconciliation } from "../../src/reconcile/run.ts";
import { USAGE_RECORDS_API_VERSION } from "../../src/reporter/sinks/usage-records.ts";
import {
  pendingCount,
  reporterAllModes,
  reporterSuite,
  testSettings,
} from "../reporter/harness.ts";
import { insertEvents, waitFor } from "../reporter/seed.ts";
import { subscribedItem } from "../reporter/subscriptions.ts";
import { backends } from "../support/db.ts";

const EVENT = "minutes";

describe.each(backends)("reconciliation of legacy usage records, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("compares each subscription item's billing period whole: no drift after a clean run, then names the period and events of a record changed behind Meterline's back", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    await db.insert(meters).values({ eventName: EVENT, deliveryMode: "usage_records" });
    const subs: Array<{ key: string; customer: string; item: string }> = [];
    for (let i = 0; i < 2; i++) {
      const sub = await subscribedItem(stripe, EVENT);
      subs.push({ key: `ur-${i}`, ...sub });
    }
    await db
      .insert(customers)
      .values(subs.map((s) => ({ key: s.key, stripeCustomerId: s.customer })));
    await db
      .insert(subscriptionItems)
      .values(
        subs.map((s) => ({ customerKey: s.key, eventName: EVENT, subscriptionItemId: s.item })),
      );
    // Inside the subscriptions' first period, which began when they were made.
    const occurredAt = new Date();
    const events = Array.from({ length: 12 }, (_, i) => ({
      id: `ur-e${String(i).padStart(2, "0")}`,
      customerKey: subs[i % 2]?.key ?? "ur-0",
      eventName: EVENT,
      value: i + 1,
      occurredAt,
    }));
    await insertEvents(db, events);
    const r = reporterAllModes(db, stripe, testSettings({ id: "ur-rec" }));
    try {
      await waitFor("every event reported", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }

    const clean = await runReconciliation(db, stripe, { hours: 2, settleMinutes: 0, ranBy: "t" });
    const total = events.reduce((s, e) => s + e.value, 0);
    expect(clean).toMatchObject({
      groups: 2,
      driftGroups: 0,
      meterlineTotal: total,
      stripeTotal: total,
      error: null,
    });

    // Behind Meterline's back: 100 more on the first customer's item, in the same period.
    const [first, second] = subs;
    if (!first || !second) throw new Error("set-up failed");
    await stripe.rawRequest(
      "POST",
      `/v1/subscription_items/${first.item}/usage_records`,
      { quantity: 100, timestamp: Math.floor(occurredAt.getTime() / 1000), action: "increment" },
      { apiVersion: USAGE_RECORDS_API_VERSION },
    );
    const found = await runReconciliation(db, stripe, { hours: 2, settleMinutes: 0, ranBy: "t" });
    expect(found.error).toBeNull();
    expect(found.driftGroups).toBe(1);
    const [drift] = found.drift;
    const mine = events.filter((e) => e.customerKey === first.key);
    expect(drift).toMatchObject({
      customer: first.key,
      event_name: EVENT,
      subscription_item: first.item,
      meterline: mine.reduce((s, e) => s + e.value, 0),
      difference: 100,
      events: mine.length,
    });
    expect(drift?.event_ids).toEqual(mine.map((e) => e.id).sort());
    // The period is Stripe's: it holds the events' time, and is a month long.
    const start = Date.parse(drift?.hour ?? "");
    const end = Date.parse(drift?.period_end ?? "");
    expect(start).toBeLessThanOrEqual(occurredAt.getTime());
    expect(end).toBeGreaterThan(occurredAt.getTime());
    expect(end - start).toBeGreaterThanOrEqual(28 * 86_400_000);

    // An item Stripe does not have (404) has no totals to compare: left out, the run goes on.
    await db
      .update(subscriptionItems)
      .set({ subscriptionItemId: "si_not_in_stripe" })
      .where(eq(subscriptionItems.customerKey, second.key));
    const partial = await runReconciliation(db, stripe, { hours: 2, settleMinutes: 0, ranBy: "t" });
    expect(partial).toMatchObject({ error: null, groups: 1, driftGroups: 1 });
    expect(partial.drift[0]?.subscription_item).toBe(first.item);
  });
});
