import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { subscriptionItems } from "../../src/db/schema/subscription-items.ts";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { ProcessMetrics } from "../../src/metrics/process-metrics.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { samples } from "../support/prom-text.ts";
import { KEY, memoryLogger, pendingCount, reporterAllModes, testSettings } from "./harness.ts";
import { insertEvents, waitFor } from "./seed.ts";
import { subscribedItem } from "./subscriptions.ts";

const EVENT = "api_calls";

describe.each(backends)("usage records exactly once, on %s", (kind) => {
  let database: Database;
  let emu: RunningEmulator;
  let stripe: Stripe;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    // A fixed random source: an ambiguous fault is always "applied, then 500" (never a drop).
    emu = await startEmulator({ port: 0, apiKeys: [KEY] }, { random: () => 0.9 });
    stripe = createStripeClient({ secretKey: KEY, apiBase: emu.url, timeoutMs: 5_000 });
    await database.db.insert(meters).values({ eventName: EVENT, deliveryMode: "usage_records" });
  });
  afterAll(async () => {
    await emu.close();
    await database.close();
  });

  /** `n` customers subscribed now and linked, with their items set to `item(i)` or the real one. */
  async function subscribed(prefix: string, n: number, item?: (i: number) => string) {
    const made: Array<{ key: string; item: string }> = [];
    for (let i = 0; i < n; i++) {
      const sub = await subscribedItem(stripe, EVENT);
      const key = `${prefix}-${i}`;
      made.push({ key, item: item?.(i) ?? sub.item });
      await database.db.insert(customers).values({ key, stripeCustomerId: sub.customer });
    }
    await database.db
      .insert(subscriptionItems)
      .values(
        made.map((c) => ({ customerKey: c.key, eventName: EVENT, subscriptionItemId: c.item })),
      );
    return made;
  }

  const records = (item: string) =>
    emu.ledger().usage_records.filter((r) => r.subscription_item === item);

  it("usage records: one 500 is never recovered — no longer: a 500 that applied nothing is resent under a new key; one after applying is reported, not resent", async () => {
    const { db } = database;
    const [lost, applied] = await subscribed("ur500", 2);
    if (!lost || !applied) throw new Error("set-up failed");
    // Inside the subscriptions' first period, which began when they were made.
    const occurredAt = new Date();

    // 1. Stripe fails before applying and stores the 500 under the event's key.
    emu.setEndpointFaults("usage_records", { p500: 1 });
    await insertEvents(db, [
      { id: "ur-lost", customerKey: lost.key, eventName: EVENT, value: 5, occurredAt },
    ]);
    const metrics = new ProcessMetrics();
    const r = reporterAllModes(
      db,
      stripe,
      testSettings({ id: "ur", backoffBaseMs: 300, backoffMaxMs: 600 }),
      memoryLogger(),
      metrics.reporter,
    );
    try {
      await waitFor("the first 500", async () => (await attempts(database, "ur-lost")) >= 1);
      emu.clearEndpointFaults("usage_records");
      await waitFor("ur-lost to settle", async () => (await pendingCount(db)) === 0);

      // 2. Stripe applies the record, then answers 500 (stored under the key as well).
      emu.setEndpointFaults("usage_records", { pAmbiguous: 1 });
      await insertEvents(db, [
        { id: "ur-applied", customerKey: applied.key, eventName: EVENT, value: 7, occurredAt },
      ]);
      await waitFor("ur-applied to settle", async () => (await pendingCount(db)) === 0);
    } finally {
      emu.clearEndpointFaults("usage_records");
      await r.stop();
    }
    const settled = await rows<{ id: string; status: string; key_generation: number }>(
      db,
      sql`select id, status, key_generation from usage_events order by id`,
    );
    expect(settled).toEqual([
      { id: "ur-applied", status: "reported", key_generation: 0 },
      { id: "ur-lost", status: "reported", key_generation: 1 },
    ]);
    // Counted exactly once each: the lost one by its resend, the applied one by its first send.
    expect(records(lost.item).map((x) => x.quantity)).toEqual([5]);
    expect(records(applied.item).map((x) => x.quantity)).toEqual([7]);
    // What the person on call sees: each check by its verdict (the lost one's resend may meet
    // the fault again before it is cleared, and be checked again).
    const s = samples(await metrics.registry.metrics());
    expect(s.get('meterline_usage_record_checks_total{verdict="applied"}')).toBe(1);
    expect(s.get('meterline_usage_record_checks_total{verdict="not_applied"}')).toBeGreaterThan(0);
    expect(s.get('meterline_usage_record_checks_total{verdict="unknown"}')).toBeUndefined();
  });

  it("gone subscription items trip a permanent halt no longer: six customers with gone items among fifty healthy ones are dead-lettered (customer scope), the rest flow", async () => {
    const { db } = database;
    const healthy = await subscribed("ok", 50);
    const gone = await subscribed("gone", 6, (i) => `si_gone_${i}`);
    const occurredAt = new Date();
    const events = [
      ...healthy.flatMap((c) =>
        [1, 2, 3].map((n) => ({ id: `${c.key}-${n}`, customerKey: c.key })),
      ),
      ...gone.flatMap((c) => [1, 2].map((n) => ({ id: `${c.key}-${n}`, customerKey: c.key }))),
    ];
    // Interleaved in the queue: the gone customers' events are not all at its head or tail.
    events.sort((a, b) => a.id.localeCompare(b.id));
    const base = Date.now() - 3_600_000;
    await insertEvents(
      db,
      events.map((e, i) => ({
        ...e,
        eventName: EVENT,
        value: 1,
        occurredAt,
        nextAttemptAt: new Date(base + i),
      })),
    );
    const r = reporterAllModes(db, stripe, testSettings({ id: "gone", haltProbeMs: 100 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0, 60_000);
    } finally {
      await r.stop();
    }
    const outcome = await rows<{ status: string; code: string | null; n: number }>(
      db,
      sql`select status, last_error_code as code, count(*)::int as n from usage_events
          where customer_key like 'ok-%' or customer_key like 'gone-%'
          group by status, last_error_code order by status`,
    );
    expect(outcome).toEqual([
      { status: "failed", code: "resource_missing", n: 12 },
      { status: "reported", code: null, n: 150 },
    ]);
    const circuits = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from reporter_circuits`,
    );
    expect(circuits[0]?.n).toBe(0);
  });

  it("events held behind a systemic circuit whose resend meets a stored 500 and a gone item are their own when the account delivered for others since: dead-lettered, no new halt", async () => {
    const { db } = database;
    const [since] = await subscribed("since", 1);
    const gone = await subscribed("held", 6, (i) => `si_held_${i}`);
    if (!since) throw new Error("set-up failed");
    const occurredAt = new Date();
    await insertEvents(db, [
      { id: "since-1", customerKey: since.key, eventName: EVENT, value: 1, occurredAt },
      ...gone.map((c) => ({
        id: `${c.key}-1`,
        customerKey: c.key,
        eventName: EVENT,
        value: 1,
        occurredAt,
      })),
    ]);
    // Their history: rejected with resource_missing two minutes ago, taken back by a systemic
    // revert, waiting behind the circuit since; and another customer's event reported a minute ago.
    await db.execute(sql`
      update usage_events set wait_reason = 'systemic_halt' where customer_key like 'held-%'`);
    await db.execute(sql`
      insert into usage_event_attempts (event_id, attempt, worker, outcome, http_status, stripe_code, started_at)
      select id, 0, 'earlier', 'rejected', 404, 'resource_missing', now() - interval '2 minutes'
        from usage_events where customer_key like 'held-%'`);
    await db.execute(sql`
      update usage_events set status = 'reported', reported_at = now() - interval '1 minute'
       where id = 'since-1'`);
    // Every resend answered 500, stored under its key: only Stripe's totals can tell, and they
    // say the item is gone.
    emu.setEndpointFaults("usage_records", { p500: 1 });
    const r = reporterAllModes(db, stripe, testSettings({ id: "held", haltProbeMs: 60_000 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0, 30_000);
    } finally {
      emu.clearEndpointFaults("usage_records");
      await r.stop();
    }
    const outcome = await rows<{ status: string; code: string | null; n: number }>(
      db,
      sql`select status, last_error_code as code, count(*)::int as n from usage_events
          where customer_key like 'held-%' group by status, last_error_code`,
    );
    expect(outcome).toEqual([{ status: "failed", code: "resource_missing", n: 6 }]);
    const circuits = await rows<{ scope: string }>(db, sql`select scope from reporter_circuits`);
    expect(circuits).toEqual([]);
  });
});

async function attempts(database: Database, id: string): Promise<number> {
  const [row] = await rows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from usage_event_attempts where event_id = ${id}`,
  );
  return row?.n ?? 0;
}
