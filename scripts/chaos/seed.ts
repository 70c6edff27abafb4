import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Db } from "../../src/db/connect.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { meters } from "../../src/db/schema/meters.ts";
import type { PlannedEvent, World } from "./plan.ts";

/** Event names of the chaos run's two meters: two meters double the (customer, meter) pairs. */
export const CHAOS_METERS = ["chaos_api_calls", "chaos_tokens"];

/** How many poison customers of each kind (deleted, unlinked, unknown) the world has. */
const POISON_CUSTOMERS = 4;
/** Stripe calls in flight while seeding: quick, and far below the emulator's capacity. */
const SEED_CONCURRENCY = 16;
/** Rows per INSERT statement: large enough to be fast, small enough for one jsonb parameter. */
const INSERT_BATCH = 5_000;

/**
 * Creates the world in the emulator through the official SDK and in Meterline's tables: the
 * meters, `healthy` linked customers, customers deleted in Meterline (still alive in Stripe:
 * Meterline's word decides), customers never linked, and customer keys nobody declared.
 */
export async function seedWorld(db: Db, stripe: Stripe, healthy: number): Promise<World> {
  for (const eventName of CHAOS_METERS) {
    const meter = await stripe.billing.meters.create({
      display_name: eventName,
      event_name: eventName,
      default_aggregation: { formula: "sum" },
    });
    await db.insert(meters).values({ eventName, stripeMeterId: meter.id });
  }
  const linked = await createStripeCustomers(stripe, "chaos-cust", healthy);
  const deleted = await createStripeCustomers(stripe, "chaos-deleted", POISON_CUSTOMERS);
  const unlinked = range(POISON_CUSTOMERS).map((i) => `chaos-unlinked-${i}`);
  const now = new Date();
  await db.insert(customers).values([
    ...linked.map((c) => ({ key: c.key, stripeCustomerId: c.stripeId })),
    ...deleted.map((c) => ({
      key: c.key,
      stripeCustomerId: c.stripeId,
      status: "deleted" as const,
      deletedAt: now,
    })),
    ...unlinked.map((key) => ({ key, stripeCustomerId: null })),
  ]);
  return {
    meters: [...CHAOS_METERS],
    healthy: linked.map((c) => c.key),
    deleted: deleted.map((c) => c.key),
    unlinked,
    unknown: range(POISON_CUSTOMERS).map((i) => `chaos-ghost-${i}`),
  };
}

async function createStripeCustomers(
  stripe: Stripe,
  prefix: string,
  n: number,
): Promise<Array<{ key: string; stripeId: string }>> {
  const made: Array<{ key: string; stripeId: string }> = [];
  for (let start = 0; start < n; start += SEED_CONCURRENCY) {
    const keys = range(Math.min(SEED_CONCURRENCY, n - start)).map((i) => `${prefix}-${start + i}`);
    const created = await Promise.all(keys.map((key) => stripe.customers.create({ name: key })));
    keys.forEach((key, i) => {
      const stripeId = created[i]?.id;
      if (stripeId) made.push({ key, stripeId });
    });
  }
  return made;
}

/**
 * Writes events straight into usage_events, as a producer writing to the outbox table would, in
 * multi-row statements. Each statement commits on its own, so workers start on the first
 * batch while the next is written. Returns how long it took.
 *
 * Each event gets its own arrival time (received_at = next_attempt_at), 1 ms apart in plan
 * order and ending now, as if producers had written them one by one: the queue's order is then
 * arrival order, as in production. Rows of one statement would otherwise share now() and be
 * claimed in no particular order, and a dead worker's events, rescued when their lease
 * expires, would wait behind an arbitrary part of the backlog instead of going first.
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
