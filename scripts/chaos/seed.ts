import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Db } from "../../src/db/connect.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { subscriptionItems } from "../../src/db/schema/subscription-items.ts";
import { CHAOS_METERS, type PlannedEvent, USAGE_RECORD_METERS, type World } from "./plan.ts";

/** How many poison customers of each pre-flight kind (deleted, unlinked, unknown) the world has. */
const POISON_CUSTOMERS = 4;
/** Customers deleted in Stripe only: few, so each error report names every one of their events. */
const DELETED_IN_STRIPE = 2;
/** Customers whose usage-record subscription items are gone: more than the systemic threshold (5). */
const ITEM_GONE = 6;
/** Stripe calls in flight while seeding: quick, and far below the emulator's capacity. */
const SEED_CONCURRENCY = 16;
/** Rows per INSERT statement: large enough to be fast, small enough for one jsonb parameter. */
const INSERT_BATCH = 5_000;

/**
 * Creates the world in the emulator through the official SDK and in Meterline's tables, as
 * src/cli/demo-setup.ts declares meters, subscriptions and items: a Stripe meter per meter-event
 * meter, a metered price per usage-record meter (its lookup_key is the event name, so the
 * ledger files usage records under it), `healthy` linked customers each subscribed to both
 * prices with the items set in Meterline, customers deleted in Meterline (alive in Stripe),
 * never linked, unknown, deleted in Stripe only (still linked), and six whose items are gone
 * (Meterline names items Stripe does not have).
 */
export async function seedWorld(db: Db, stripe: Stripe, healthy: number): Promise<World> {
  const prices = new Map<string, string>();
  for (const m of CHAOS_METERS) {
    let stripeMeterId: string | null = null;
    if (m.mode === "usage_records") {
      const product = await stripe.products.create({ name: `Chaos ${m.eventName}` });
      const price = await stripe.prices.create({
        currency: "usd",
        unit_amount: 1,
        product: product.id,
        recurring: { interval: "month", usage_type: "metered" },
        lookup_key: m.eventName,
      });
      prices.set(m.eventName, price.id);
    } else {
      const meter = await stripe.billing.meters.create({
        display_name: m.eventName,
        event_name: m.eventName,
        default_aggregation: { formula: "sum" },
      });
      stripeMeterId = meter.id;
    }
    await db
      .insert(meters)
      .values({ eventName: m.eventName, stripeMeterId, deliveryMode: m.mode, status: "active" });
  }

  const linked = await createStripeCustomers(stripe, "chaos-cust", healthy);
  const items = await subscribe(stripe, linked, prices);
  const deleted = await createStripeCustomers(stripe, "chaos-deleted", POISON_CUSTOMERS);
  const deletedInStripe = await createStripeCustomers(stripe, "chaos-gone", DELETED_IN_STRIPE);
  for (const c of deletedInStripe) await stripe.customers.del(c.stripeId);
  const itemGone = await createStripeCustomers(stripe, "chaos-itemgone", ITEM_GONE);
  const unlinked = range(POISON_CUSTOMERS).map((i) => `chaos-unlinked-${i}`);
  const now = new Date();
  await db.insert(customers).values([
    ...[...linked, ...deletedInStripe, ...itemGone].map((c) => ({
      key: c.key,
      stripeCustomerId: c.stripeId,
    })),
    ...deleted.map((c) => ({
      key: c.key,
      stripeCustomerId: c.stripeId,
      status: "deleted" as const,
      deletedAt: now,
    })),
    ...unlinked.map((key) => ({ key, stripeCustomerId: null })),
  ]);
  await db.insert(subscriptionItems).values([
    ...items,
    // Items of a subscription replaced in Stripe: the ids Meterline holds name nothing there.
    ...itemGone.flatMap((c, i) =>
      USAGE_RECORD_METERS.map((eventName, j) => ({
        customerKey: c.key,
        eventName,
        subscriptionItemId: `si_chaosgone${i}x${j}`,
      })),
    ),
  ]);
  return {
    healthy: linked.map((c) => c.key),
    deleted: deleted.map((c) => c.key),
    unlinked,
    unknown: range(POISON_CUSTOMERS).map((i) => `chaos-ghost-${i}`),
    deletedInStripe: deletedInStripe.map((c) => c.key),
    itemGone: itemGone.map((c) => c.key),
    stripeIds: new Map(
      [...linked, ...deleted, ...deletedInStripe, ...itemGone].map((c) => [c.key, c.stripeId]),
    ),
  };
}

type Linked = { key: string; stripeId: string };

async function createStripeCustomers(stripe: Stripe, prefix: string, n: number): Promise<Linked[]> {
  return inChunks(range(n), async (i) => {
    const key = `${prefix}-${i}`;
    const created = await stripe.customers.create({ name: key, metadata: { meterline_key: key } });
    return { key, stripeId: created.id };
  });
}

/** One subscription per customer, one item per usage-record meter: Meterline's item rows. */
async function subscribe(
  stripe: Stripe,
  linked: Linked[],
  prices: ReadonlyMap<string, string>,
): Promise<Array<{ customerKey: string; eventName: string; subscriptionItemId: string }>> {
  const rowsOf = await inChunks(linked, async (c) => {
    const subscription = await stripe.subscriptions.create({
      customer: c.stripeId,
      items: [...prices.values()].map((price) => ({ price })),
    });
    return [...prices].map(([eventName, price]) => {
      const item = subscription.items.data.find((it) => it.price.id === price);
      if (!item) throw new Error(`subscription ${subscription.id} has no item for ${price}`);
      return { customerKey: c.key, eventName, subscriptionItemId: item.id };
    });
  });
  return rowsOf.flat();
}

async function inChunks<T, R>(list: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let start = 0; start < list.length; start += SEED_CONCURRENCY) {
    out.push(...(await Promise.all(list.slice(start, start + SEED_CONCURRENCY).map(f))));
  }
  return out;
}

/**
 * Writes events straight into usage_events, as a producer writing to the outbox table would, in
 * multi-row statements. Each statement commits on its own, so workers start on the first
 * batch while the next is written. Returns how long it took.
 *
 * Each event gets its own arrival time (received_at = next_attempt_at), 1 ms apart in plan
 * order and ending now, as if producers had written them one by one: the queue's order is then
 * arrival order, as in production, and a dead worker's events, rescued when their lease
 * expires, do not wait behind an arbitrary part of the backlog.
 */
export async function insertEvents(db: Db, events: readonly PlannedEvent[]): Promise<number> {
  const started = Date.now();
  const firstArrival = started - events.length;
  for (let i = 0; i < events.length; i += INSERT_BATCH) {
    const json = JSON.stringify(
      events.slice(i, i + INSERT_BATCH).map((e, j) => ({
        id: e.id,
        customer_key: e.customerKey,
        event_name: e.eventName,
        value: e.value,
        occurred_at: e.occurredAt.toISOString(),
        arrived_at: new Date(firstArrival + i + j).toISOString(),
      })),
    );
    // One jsonb parameter per batch: Drizzle would spell 5,000 rows as 25,000 parameters.
    await db.execute(sql`
      insert into usage_events
        (id, customer_key, event_name, value, occurred_at, received_at, next_attempt_at)
      select id, customer_key, event_name, value, occurred_at, arrived_at, arrived_at
      from jsonb_to_recordset(${json}::jsonb) as r(id text, customer_key text, event_name text,
        value bigint, occurred_at timestamptz, arrived_at timestamptz)`);
  }
  return Date.now() - started;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
