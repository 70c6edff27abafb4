import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import { setup } from "./helpers.ts";

/** A customer subscribed to `count` monthly prices, one subscription item each. */
async function subscribe(stripe: Stripe, count: number): Promise<Stripe.Subscription> {
  const customer = await stripe.customers.create({ name: "Acme" });
  const items: Stripe.SubscriptionCreateParams.Item[] = [];
  for (let i = 0; i < count; i++) {
    const price = await stripe.prices.create({
      currency: "usd",
      unit_amount: 100 + i,
      product_data: { name: `Plan ${i}` },
      recurring: { interval: "month" },
    });
    items.push({ price: price.id });
  }
  return stripe.subscriptions.create({ customer: customer.id, items });
}

describe("subscriptions and subscription items", () => {
  it("lists subscriptions and subscription items (was a 500)", async () => {
    const { stripe } = await setup();
    const first = await subscribe(stripe, 1);
    const second = await subscribe(stripe, 2);

    // Both lists carry prices, whose *_decimal fields are Stripe.Decimal values: the list page
    // used to be deep-cloned, which stripped their toJSON and left BigInts JSON cannot write.
    const subscriptions = await stripe.subscriptions.list();
    expect(subscriptions.data.map((s) => s.id)).toEqual([second.id, first.id]);
    const [newest] = subscriptions.data;
    expect(newest?.items.data[0]?.price.unit_amount_decimal?.toString()).toBe("100");

    const items = await stripe.subscriptionItems.list({ subscription: second.id });
    expect(items.data.map((i) => i.id)).toEqual(second.items.data.map((i) => i.id).reverse());
    expect(items.data.map((i) => i.price.unit_amount_decimal?.toString())).toEqual(["101", "100"]);
    expect(items.data.map((i) => i.plan.amount_decimal?.toString())).toEqual(["101", "100"]);
  });

  it("filters the subscription list by customer and pages it newest first", async () => {
    const { stripe } = await setup();
    const a = await subscribe(stripe, 1);
    const b = await subscribe(stripe, 1);
    const c = await subscribe(stripe, 1);

    const ofB = await stripe.subscriptions.list({ customer: b.customer as string });
    expect(ofB.data.map((s) => s.id)).toEqual([b.id]);

    const page1 = await stripe.subscriptions.list({ limit: 2 });
    expect(page1).toMatchObject({ has_more: true, url: "/v1/subscriptions" });
    expect(page1.data.map((s) => s.id)).toEqual([c.id, b.id]);
    const page2 = await stripe.subscriptions.list({ limit: 2, starting_after: b.id });
    expect(page2.has_more).toBe(false);
    expect(page2.data.map((s) => s.id)).toEqual([a.id]);
  });
});
