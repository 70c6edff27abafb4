import type Stripe from "stripe";

/**
 * A customer subscribed (now: its period starts now) to a monthly metered price whose lookup
 * key is `eventName`, so the emulator's ledger files its usage records under that event name.
 */
export async function subscribedItem(
  stripe: Stripe,
  eventName: string,
  customerId?: string,
): Promise<{ customer: string; item: string }> {
  const customer = customerId ?? (await stripe.customers.create({ name: eventName })).id;
  const price = await stripe.prices.create({
    currency: "usd",
    unit_amount: 1,
    product_data: { name: eventName },
    recurring: { interval: "month", usage_type: "metered" },
    lookup_key: eventName,
  });
  const subscription = await stripe.subscriptions.create({
    customer,
    items: [{ price: price.id }],
  });
  const item = subscription.items.data[0];
  if (!item) throw new Error("no subscription item");
  return { customer, item: item.id };
}
