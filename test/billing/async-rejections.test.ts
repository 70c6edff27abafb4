import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAsyncReport } from "../../src/billing/async-rejections.ts";
import { STRIPE_EVENTS_PATH, stripeEventsRoutes } from "../../src/billing/stripe-events-route.ts";
import { defaultConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { buildApp } from "../../src/http/app.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { backends, freshDatabase } from "../support/db.ts";

const SECRET = "whsec_test_billing_sync";

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
  let database: Database;
  let emulator: RunningEmulator;
  let app: FastifyInstance;
  let stripe: Stripe;

  beforeAll(async () => {
    database = await freshDatabase(kind);
    emulator = await startEmulator({ port: 0, errorReportIntervalMs: 0 });
    stripe = createStripeClient({
      secretKey: emulator.apiKey,
      apiBase: emulator.url,
      timeoutMs: 5_000,
    });
    app = await buildApp({ db: database.db, config: defaultConfig() });
    await app.register(stripeEventsRoutes, { db: database.db, stripe, webhookSecret: SECRET });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    emulator.addEventDestination({
      url: `http://127.0.0.1:${port}${STRIPE_EVENTS_PATH}`,
      secret: SECRET,
    });
  });

  afterAll(async () => {
    await app?.close();
    await emulator?.close();
    await database?.close();
  });

  it("moves reported events that Stripe rejected after its 200 to failed, with Stripe's code", async () => {
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
    const flushed = await emulator.flushErrorReports();
    expect(flushed.deliveries.map((d) => d.status)).toEqual([200]);

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
  });

  it("a redelivered Stripe event changes nothing the second time", async () => {
    const [first] = await rows<{ id: string; payload: unknown }>(
      database.db,
      sql`select id, payload from stripe_events limit 1`,
    );
    if (!first) throw new Error("no Stripe event recorded by the previous test");
    // The emulator keeps its events; deliver the same notification again, signed afresh.
    const body = JSON.stringify({
      id: first.id,
      object: "v2.core.event",
      type: "v1.billing.meter.error_report_triggered",
      created: new Date().toISOString(),
      livemode: false,
    });
    const res = await app.inject({
      method: "POST",
      url: STRIPE_EVENTS_PATH,
      headers: {
        "content-type": "application/json",
        "stripe-signature": stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: SECRET,
        }),
      },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ handled: true, duplicate: true, failed: 0 });
  });

  it("refuses a body whose signature does not verify, changing nothing", async () => {
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
