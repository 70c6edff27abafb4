import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config.ts";
import { buildApp } from "../../src/http/app.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { latestReconciliation, runReconciliation } from "../../src/reconcile/run.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import {
  declareMeter,
  linkedCustomers,
  pendingCount,
  reporter,
  reporterSuite,
  testSettings,
} from "../reporter/harness.ts";
import { insertEvents, waitFor } from "../reporter/seed.ts";
import { backends, freshDatabase } from "../support/db.ts";

describe.each(backends)("reconciliation against the emulator, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("finds no drift after a clean run, then finds and names events cancelled behind Meterline's back, and a count Meterline never sent", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    await declareMeter(db, stripe, "api_calls");
    const customers = await linkedCustomers(db, stripe, "rec", 3);
    const now = Date.now();
    // Spread over three hours and three customers: nine groups.
    const events = Array.from({ length: 90 }, (_, i) => ({
      id: `rec-${String(i).padStart(3, "0")}`,
      customerKey: customers[i % 3]?.key ?? "rec-0",
      eventName: "api_calls",
      value: (i % 5) + 1,
      occurredAt: new Date(now - (Math.floor(i / 3) % 3) * 3_600_000 - 60_000),
    }));
    await insertEvents(db, events);
    const r = reporter(db, stripe, testSettings());
    try {
      await waitFor("every event reported", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }

    // Just reported: every group is still settling with the default margin.
    const early = await runReconciliation(db, stripe, {
      hours: 6,
      settleMinutes: 10,
      ranBy: "test",
    });
    expect(early).toMatchObject({ groups: 0, driftGroups: 0, error: null });
    expect(early.settlingGroups).toBeGreaterThanOrEqual(9);

    const clean = await runReconciliation(db, stripe, {
      hours: 6,
      settleMinutes: 0,
      ranBy: "test",
    });
    const total = events.reduce((s, e) => s + e.value, 0);
    expect(clean).toMatchObject({
      groups: 9,
      driftGroups: 0,
      settlingGroups: 0,
      meterlineTotal: total,
      stripeTotal: total,
      drift: [],
      error: null,
    });

    // Behind Meterline's back: two events cancelled in Stripe, and one sent by someone else.
    const cancelled = [events[0], events[9]];
    for (const e of cancelled) {
      await stripe.billing.meterEventAdjustments.create({
        event_name: "api_calls",
        type: "cancel",
        cancel: { identifier: e?.id ?? "" },
      });
    }
    await stripe.billing.meterEvents.create({
      event_name: "api_calls",
      identifier: "not-from-meterline",
      timestamp: Math.floor((now - 60_000) / 1000),
      payload: { stripe_customer_id: customers[1]?.stripeId ?? "", value: "7" },
    });

    const found = await runReconciliation(db, stripe, {
      hours: 6,
      settleMinutes: 0,
      ranBy: "test",
    });
    expect(found.error).toBeNull();
    expect(found.driftGroups).toBe(2);
    const byCustomer = new Map(found.drift.map((d) => [d.customer, d]));
    // events[0] and events[9] are customer rec-0's, in the same hour: one group, both named.
    const lost = byCustomer.get("rec-0");
    expect(lost?.difference).toBe(-((events[0]?.value ?? 0) + (events[9]?.value ?? 0)));
    expect(lost?.event_ids).toEqual(expect.arrayContaining(["rec-000", "rec-009"]));
    expect(byCustomer.get("rec-1")?.difference).toBe(7);
    expect(found.stripeTotal - found.meterlineTotal).toBe(7 - (lost ? -lost.difference : 0));
    // Kept with the run, for the metrics: the groups' differences, each counted whatever its sign.
    expect(found.driftTotal).toBe(7 + (lost ? -lost.difference : 0));

    expect((await latestReconciliation(db))?.id).toBe(found.id);
  });

  it("the periodic job's guard: of two workers starting at once one runs, and none again within the period", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    const guarded = (owner: string, withinMs: number) =>
      runReconciliation(db, stripe, {
        hours: 2,
        settleMinutes: 0,
        ranBy: owner,
        unlessStartedWithinMs: withinMs,
      });
    // A run a moment ago: no guarded start within the hour runs.
    await runReconciliation(db, stripe, { hours: 2, settleMinutes: 0, ranBy: "person" });
    expect(await guarded("w-0", 3_600_000)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const both = await Promise.all([guarded("w-1", 40), guarded("w-2", 40)]);
    const ran = both.filter((r) => r !== null);
    expect(ran).toHaveLength(1);
    expect(["w-1", "w-2"]).toContain(ran[0]?.ranBy);
    expect(await guarded("w-3", 60_000)).toBeNull();
  });

  it("over HTTP: runs with the defaults, refuses a bad body by field, and says when Stripe is not configured", async () => {
    const { db } = suite.database;
    const withStripe = await buildApp({ db, config: defaultConfig(), stripe: suite.env.stripe });
    const without = await buildApp({ db, config: defaultConfig() });
    try {
      const key = (await createApiKey(db, { name: "rec admin", role: "admin" })).secret;
      const auth = { authorization: `Bearer ${key}` };
      const ok = await withStripe.inject({
        method: "POST",
        url: "/v1/reconciliations",
        headers: auth,
      });
      expect(ok.statusCode).toBe(201);
      const body = ok.json();
      expect(Date.parse(body.range_end) - Date.parse(body.range_start)).toBe(48 * 3_600_000);
      expect(body).toMatchObject({ ran_by: "api", error: null });

      const latest = await withStripe.inject({
        method: "GET",
        url: "/v1/reconciliations/latest",
        headers: auth,
      });
      expect(latest.json().id).toBe(body.id);

      const bad = await withStripe.inject({
        method: "POST",
        url: "/v1/reconciliations",
        headers: auth,
        payload: { hours: 10_000, settle: 1 },
      });
      expect(bad.statusCode).toBe(400);
      const error = bad.json().error;
      expect(error.code).toBe("invalid_body");
      expect(error.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        "hours",
        "settle",
      ]);
      expect(JSON.stringify(error)).toContain("from 1 to 840");

      const none = await without.inject({
        method: "POST",
        url: "/v1/reconciliations",
        headers: auth,
      });
      expect(none.statusCode).toBe(503);
      expect(none.json().error.code).toBe("stripe_not_configured");
    } finally {
      await withStripe.close();
      await without.close();
    }
  });
});

describe.each(backends)("reconciliation errors, on %s", (kind) => {
  it("404 before any run; 502 naming the cause when Stripe cannot be read, the failed run kept", async () => {
    const database = await freshDatabase(kind);
    // A Stripe that is not there: nothing listens on port 9 of loopback.
    const stripe = createStripeClient({
      secretKey: "sk_test_nowhere",
      apiBase: "http://127.0.0.1:9",
      timeoutMs: 2_000,
    });
    const app = await buildApp({ db: database.db, config: defaultConfig(), stripe });
    try {
      const key = (await createApiKey(database.db, { name: "a", role: "admin" })).secret;
      const auth = { authorization: `Bearer ${key}` };
      const none = await app.inject({
        method: "GET",
        url: "/v1/reconciliations/latest",
        headers: auth,
      });
      expect(none.statusCode).toBe(404);
      expect(none.json().error.code).toBe("reconciliation_not_found");

      // Something to ask Stripe about: one reported event of a linked customer and meter.
      await database.db.execute(
        sql`insert into customers (key, stripe_customer_id) values ('c', 'cus_c')`,
      );
      await database.db.execute(
        sql`insert into meters (event_name, stripe_meter_id) values ('m', 'mtr_m')`,
      );
      await database.db.execute(sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status, reported_at)
        values ('e1', 'c', 'm', 1, now() - interval '2 hours', 'reported', now() - interval '1 hour')`);
      const failed = await app.inject({
        method: "POST",
        url: "/v1/reconciliations",
        headers: auth,
      });
      expect(failed.statusCode).toBe(502);
      expect(failed.json().error.code).toBe("reconciliation_failed");
      expect(failed.json().error.message).toMatch(/could not read Stripe's totals: .+/);
      const latest = await app.inject({
        method: "GET",
        url: "/v1/reconciliations/latest",
        headers: auth,
      });
      expect(latest.json()).toMatchObject({ groups: 0, drift_groups: 0 });
      expect(latest.json().error).toEqual(expect.any(String));
    } finally {
      await app.close();
      await database.close();
    }
  });
});
