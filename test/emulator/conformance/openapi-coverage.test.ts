import { readdirSync, readFileSync } from "node:fs";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import type { RunningEmulator } from "../../../src/emulator/index.ts";
import { manualClock, rejectionOf } from "../helpers.ts";
import { meteredItem, usageRecord, usageRecordSummaries } from "./legacy-support.ts";
import { templateShape } from "./openapi/document.ts";
import { conformance, recordedExchanges, setup, streamClient, T0, usageParams } from "./support.ts";

/** `METHOD /path/{}/shape`: how a route and an operation are compared. */
const keyOf = (method: string, template: string) => `${method} ${templateShape(template)}`;

/** Customers, products, prices: create, read, update, list, delete, and a 404 each. */
async function customersAndCatalog(stripe: Stripe): Promise<void> {
  const customer = await stripe.customers.create({ name: "Acme", email: "a@acme.test" });
  await stripe.customers.retrieve(customer.id);
  await stripe.customers.update(customer.id, { name: "Acme Inc." });
  await stripe.customers.list({ limit: 1 });
  const gone = await stripe.customers.create({ name: "Gone" });
  await stripe.customers.del(gone.id);
  // A deleted customer answers with the document's other branch: deleted_customer.
  await stripe.customers.retrieve(gone.id);
  await rejectionOf(stripe.customers.retrieve("cus_missing"));

  const product = await stripe.products.create({ name: "API" });
  await stripe.products.retrieve(product.id);
  await rejectionOf(stripe.products.retrieve("prod_missing"));
  const price = await stripe.prices.create({
    currency: "usd",
    unit_amount: 5,
    product: product.id,
    recurring: { interval: "month" },
  });
  await stripe.prices.retrieve(price.id);
  await rejectionOf(stripe.prices.retrieve("price_missing"));
}

/** Meters and v1 meter events: every meter operation, an event, its adjustment, summaries. */
async function metersAndEvents(stripe: Stripe): Promise<void> {
  const customer = await stripe.customers.create({ name: "Metered" });
  const meter = await stripe.billing.meters.create({
    display_name: "API requests",
    event_name: "api_requests",
    default_aggregation: { formula: "sum" },
  });
  await stripe.billing.meters.retrieve(meter.id);
  await stripe.billing.meters.update(meter.id, { display_name: "Requests" });
  await stripe.billing.meters.list();
  await stripe.billing.meters.deactivate(meter.id);
  await stripe.billing.meters.reactivate(meter.id);
  await rejectionOf(stripe.billing.meters.retrieve("mtr_missing"));

  await stripe.billing.meterEvents.create(usageParams(customer.id, "3", "tour-1"));
  await rejectionOf(stripe.billing.meterEvents.create(usageParams(customer.id, "3", "tour-1")));
  // A customer Stripe does not know is accepted now and reported later, in an error report.
  await stripe.billing.meterEvents.create(usageParams("cus_unknown", "1", "tour-2"));
  await stripe.billing.meterEventAdjustments.create({
    event_name: "api_requests",
    type: "cancel",
    cancel: { identifier: "tour-1" },
  });
  await stripe.billing.meters.listEventSummaries(meter.id, {
    customer: customer.id,
    start_time: T0 - 3600,
    end_time: T0 + 3600,
  });
}

/** Subscriptions, their items, legacy usage records and their summaries. */
async function subscriptionsAndUsageRecords(stripe: Stripe): Promise<void> {
  const item = await meteredItem(stripe);
  await stripe.subscriptions.retrieve(item.subscription);
  await stripe.subscriptions.list();
  await stripe.subscriptionItems.retrieve(item.id);
  await stripe.subscriptionItems.list({ subscription: item.subscription });
  await rejectionOf(stripe.subscriptionItems.retrieve("si_missing"));
  await usageRecord(stripe, item.id, { quantity: 2, timestamp: T0 });
  await rejectionOf(usageRecord(stripe, "si_missing", { quantity: 2 }));
  await usageRecordSummaries(stripe, item.id);
  await rejectionOf(usageRecordSummaries(stripe, "si_missing"));
  await stripe.subscriptions.cancel(item.subscription);
}

/** The v2 API: a session, a stream request, a bad token, and the full form of a thin event. */
async function v2(emu: RunningEmulator, stripe: Stripe): Promise<void> {
  const session = await stripe.v2.billing.meterEventSession.create();
  const stream = streamClient(emu, session.authentication_token);
  await stream.v2.billing.meterEventStream.create({
    events: [{ event_name: "api_requests", payload: { stripe_customer_id: "cus_x", value: "1" } }],
  });
  await rejectionOf(
    streamClient(emu, "ek_test_unknown").v2.billing.meterEventStream.create({ events: [] }),
  );
  const { events } = await emu.flushErrorReports();
  const [event] = events;
  if (!event) throw new Error("the tour's unknown customer made no error report");
  await stripe.v2.core.events.retrieve(event.id);
  await rejectionOf(stripe.v2.core.events.retrieve("evt_missing"));
}

describe("conformance to Stripe's OpenAPI document (test/fixtures/stripe)", () => {
  it("every route the emulator serves is a documented operation, and each answered a success the document's schema accepts", async () => {
    const { emu, stripe } = await setup(
      { errorReportIntervalMs: 0 },
      { clock: manualClock(T0 * 1000) },
    );
    await customersAndCatalog(stripe);
    await metersAndEvents(stripe);
    await subscriptionsAndUsageRecords(stripe);
    await v2(emu, stripe);

    const operations = new Set(conformance.doc.operations.map((o) => keyOf(o.method, o.template)));
    const served = emu.routes().map((r) => keyOf(r.method, r.url));
    // A new route must come with its part of the document (the fixtures), or this fails.
    expect(served.filter((route) => !operations.has(route))).toEqual([]);

    // Every one of them answered at least one success, checked against its own schema (every
    // answer, errors included, is checked again after the test by support.ts).
    const checked = recordedExchanges().map((exchange) => conformance.check(exchange));
    const validatedSuccesses = new Set(
      checked
        .filter((c) => c.exchange.status < 300 && c.verdict.template !== null)
        .map((c) => keyOf(c.exchange.method, c.verdict.template ?? "")),
    );
    expect(served.filter((route) => !validatedSuccesses.has(route))).toEqual([]);
    expect(checked.flatMap((c) => c.verdict.problems)).toEqual([]);
    // The walk is not vacuous: the emulator serves every operation of the document.
    expect(new Set(served)).toEqual(operations);
  });
  it("every test file of the suite starts its emulators through support.ts, so none of their answers goes unchecked", () => {
    const here = new URL(".", import.meta.url);
    const unchecked = readdirSync(here)
      .filter((file) => file.endsWith(".test.ts"))
      .filter((file) => {
        const text = readFileSync(new URL(file, here), "utf8");
        const setupFromHelpers = /import\s*\{[^}]*\bsetup\b[^}]*\}\s*from\s*"\.\.\/helpers\.ts"/;
        return /\bstartEmulator\(/.test(text) || setupFromHelpers.test(text);
      });
    expect(unchecked).toEqual([]);
  });
});
