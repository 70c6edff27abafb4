import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { readAsyncReport } from "../../src/billing/async-rejections.ts";
import { STRIPE_EVENTS_PATH } from "../../src/billing/stripe-events-route.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { backends } from "../support/db.ts";
import { billingSuite, flushReports, redeliver } from "./harness.ts";
import { rejectionOf } from "./rows.ts";

describe("reading an asynchronous error report", () => {
  it("names the sampled identifiers and counts the rejections Stripe did not name", () => {
    const report = readAsyncReport({
      type: "v1.billing.meter.error_report_triggered",
      data: {
        reason: {
          error_count: 7,
          error_types: [
            {
              code: "meter_event_customer_not_found",
              error_count: 7,
              sample_errors: [
                { error_message: "no customer cus_x", request: { identifier: "e1" } },
                { error_message: "no customer cus_y", request: { identifier: "e2" } },
              ],
            },
          ],
        },
      },
    } as unknown as Stripe.Events.V1BillingMeterErrorReportTriggeredEvent);
    expect(report.named.map((n) => n.identifier)).toEqual(["e1", "e2"]);
    expect(report.named[0]?.code).toBe("meter_event_customer_not_found");
    expect(report.unnamed).toBe(5);
  });
});

describe.each(backends)("billing sync of asynchronous rejections on %s", (kind) => {
  const suite = billingSuite(kind);

  it("moves reported events that Stripe rejected after its 200 to failed, with Stripe's code", async () => {
    const { database, stripe } = suite;
    await stripe.billing.meters.create({
      display_name: "API requests",
      event_name: "api_requests",
      default_aggregation: { formula: "sum" },
    });
    const ids = ["async-1", "async-2"];
    const now = new Date();
    // As the reporter leaves them: reported, after Stripe answered 200 for a customer it lacks.
    await database.db.insert(usageEvents).values(
      ids.map((id) => ({
        id,
        customerKey: "gone",
        eventName: "api_requests",
        value: 3,
        occurredAt: now,
        status: "reported" as const,
      })),
    );
    for (const id of ids) {
      await stripe.billing.meterEvents.create({
        event_name: "api_requests",
        payload: { stripe_customer_id: "cus_never_existed", value: "3" },
        identifier: id,
      });
    }
    const [thin] = await flushReports(suite);

    const after = await rows<{
      id: string;
      status: string;
      last_error_code: string;
      last_error_message: string;
    }>(
      database.db,
      sql`select id, status, last_error_code, last_error_message from usage_events order by id`,
    );
    expect(after.map((r) => [r.id, r.status, r.last_error_code])).toEqual([
      ["async-1", "failed", "meter_event_customer_not_found"],
      ["async-2", "failed", "meter_event_customer_not_found"],
    ]);
    expect(after[0]?.last_error_message).toMatch(/accepted this event, then rejected it/);
    const attempts = await rows<{ outcome: string }>(
      database.db,
      sql`select outcome from usage_event_attempts where event_id = 'async-1'`,
    );
    expect(attempts.map((a) => a.outcome)).toEqual(["async_rejected"]);
    // Kept by identifier, so a later resend's "already exists" cannot make them reported.
    expect(await rejectionOf(database.db, "async-2")).toEqual({
      code: "meter_event_customer_not_found",
      stripe_event_id: thin,
    });
  });

  it("a redelivered Stripe event changes nothing the second time", async () => {
    const [first] = await rows<{ id: string; payload: unknown }>(
      suite.database.db,
      sql`select id, payload from stripe_events limit 1`,
    );
    if (!first) throw new Error("no Stripe event recorded by the previous test");
    // The emulator keeps its events; deliver the same notification again, signed afresh.
    const res = await redeliver(suite, first.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ handled: true, duplicate: true, failed: 0 });
  });

  it("refuses a body whose signature does not verify, changing nothing", async () => {
    const { app, stripe, database } = suite;
    const body = JSON.stringify({
      id: "evt_forged",
      object: "v2.core.event",
      type: "v1.billing.meter.error_report_triggered",
    });
    const res = await app.inject({
      method: "POST",
      url: STRIPE_EVENTS_PATH,
      headers: {
        "content-type": "application/json",
        "stripe-signature": stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: "whsec_wrong",
        }),
      },
      payload: body,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("invalid_signature");
    const forged = await rows(
      database.db,
      sql`select id from stripe_events where id = 'evt_forged'`,
    );
    expect(forged).toEqual([]);
  });
});
