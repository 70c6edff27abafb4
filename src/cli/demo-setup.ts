import type Stripe from "stripe";
import type { DeliveryMode } from "../db/schema/meters.ts";
import type { MeterlineClient } from "./api-client.ts";

/** The demo's delivery modes, as `--mode` names them. */
export const demoModes = ["meter-events", "stream", "usage-records"] as const;
/** One of the demo's delivery modes. */
export type DemoMode = (typeof demoModes)[number];

/** Each mode's meter: a distinct event_name, so runs of different modes never mix in the ledger. */
const EVENT_NAMES: Record<DemoMode, string> = {
  "meter-events": "demo_api_calls",
  stream: "demo_api_calls_stream",
  "usage-records": "demo_api_calls_records",
};

const DELIVERY: Record<DemoMode, DeliveryMode> = {
  "meter-events": "meter_events",
  stream: "meter_stream",
  "usage-records": "usage_records",
};

/** A healthy demo customer: Meterline's key and the Stripe customer id the ledger shows. */
export interface DemoCustomer {
  key: string;
  stripeId: string;
}

/** What the demo set up: the meter's event_name and its healthy customers. */
export interface DemoSetup {
  eventName: string;
  healthy: DemoCustomer[];
}

/**
 * Sets the demo up for a mode, in the emulator (through the SDK) and in Meterline (through its
 * API): a meter in that delivery mode and `count` linked customers. For usage records, each
 * customer also gets a subscription to a metered price whose lookup_key is the event name (the
 * emulator's ledger files usage records under it), and its subscription item is set in
 * Meterline, so the ledger compares per customer × event name in every mode.
 */
export async function setUpDemo(
  mode: DemoMode,
  api: MeterlineClient,
  stripe: Stripe,
  run: string,
  count: number,
): Promise<DemoSetup> {
  const eventName = EVENT_NAMES[mode];
  const meter = { status: "active", delivery_mode: DELIVERY[mode] };
  if (mode === "usage-records") {
    // Usage records need no Stripe meter: they are filed on a subscription item.
    await api.must("PUT", `/v1/meters/${eventName}`, meter, [200, 201]);
  } else {
    const stripeMeter = await findOrCreateMeter(stripe, eventName);
    await api.must(
      "PUT",
      `/v1/meters/${eventName}`,
      { ...meter, stripe_meter_id: stripeMeter.id },
      [200, 201],
    );
  }
  const price = mode === "usage-records" ? await meteredPrice(stripe, eventName) : null;
  const healthy: DemoCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const key = `demo-${run}-${i}`;
    const customer = await stripe.customers.create({
      name: `Demo customer ${i}`,
      metadata: { meterline_key: key },
    });
    await api.must("PUT", `/v1/customers/${key}`, { stripe_customer_id: customer.id }, [200, 201]);
    if (price) {
      const subscription = await stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: price.id }],
      });
      const item = subscription.items.data[0];
      if (!item) throw new Error(`subscription ${subscription.id} came back without an item`);
      await api.must(
        "PUT",
        `/v1/customers/${key}/subscription_items/${eventName}`,
        { subscription_item_id: item.id },
        [200],
      );
    }
    healthy.push({ key, stripeId: customer.id });
  }
  return { eventName, healthy };
}

async function findOrCreateMeter(stripe: Stripe, eventName: string): Promise<Stripe.Billing.Meter> {
  const meters = await stripe.billing.meters.list({ limit: 100 });
  return (
    meters.data.find((m) => m.event_name === eventName && m.status === "active") ??
    (await stripe.billing.meters.create({
      display_name: `Demo ${eventName}`,
      event_name: eventName,
      default_aggregation: { formula: "sum" },
    }))
  );
}

async function meteredPrice(stripe: Stripe, eventName: string): Promise<Stripe.Price> {
  const product = await stripe.products.create({ name: `Demo ${eventName}` });
  return stripe.prices.create({
    currency: "usd",
    unit_amount: 1,
    product: product.id,
    recurring: { interval: "month", usage_type: "metered" },
    lookup_key: eventName,
  });
}
