/**
 * One benchmark's world: an emulator process with the chosen latency, the meter and customers
 * on both sides (and, for usage records, a metered subscription per customer), then Stripe's
 * live rate limits switched on — after setup, which is not measured.
 */
import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Db } from "../../src/db/connect.ts";
import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import type { BenchOptions, Engine } from "../options.ts";
import { type BenchDatabase, freshDatabase } from "./database.ts";
import { type EmulatorProcess, startEmulatorProcess } from "./emulator.ts";
import { EVENT_NAME, type SeededCustomer, seedMeterline, seedStripe } from "./seed.ts";

/** The Stripe side of a run: the emulator process and what was created in it. */
export interface StripeSide {
  emulator: EmulatorProcess;
  /** A client configured as Meterline configures its own (no SDK retries). */
  stripe: Stripe;
  meterId: string;
  customers: SeededCustomer[];
  /** Subscription item per customer key (usage records only). */
  items: Map<string, string>;
}

/** Starts the emulator and creates the meter, customers and (usage records) subscriptions. */
export async function startStripeSide(
  mode: DeliveryMode,
  options: BenchOptions,
): Promise<StripeSide> {
  const emulator = await startEmulatorProcess({
    latencyMs: options.latencyMs,
    jitterMs: options.jitterMs,
  });
  try {
    const stripe = createStripeClient({
      secretKey: emulator.apiKey,
      apiBase: emulator.url,
      timeoutMs: 10_000,
    });
    const seeded = await seedStripe(stripe, options.customers);
    const items =
      mode === "usage_records" ? await subscribeAll(stripe, seeded.customers) : new Map();
    return { emulator, stripe, meterId: seeded.meterId, customers: seeded.customers, items };
  } catch (err) {
    await emulator.close().catch(() => {});
    throw err;
  }
}

/** Declares the meter, customers and subscription items in Meterline's database. */
export async function seedDatabase(db: Db, side: StripeSide, mode: DeliveryMode): Promise<void> {
  await seedMeterline(db, { meterId: side.meterId, mode, customers: side.customers });
  // Raw SQL: this file need not import a schema module that is still being written.
  for (const [key, item] of side.items) {
    await db.execute(
      sql`insert into subscription_items (customer_key, event_name, subscription_item_id)
          values (${key}, ${EVENT_NAME}, ${item})`,
    );
  }
}

/** Switches on Stripe's live-mode limits (v1 and v2 as configured, the rest as documented). */
export function liveLimits(side: StripeSide, options: BenchOptions): Promise<void> {
  return side.emulator.setRateLimits({
    mode: "live",
    meterEvents: options.v1Limit,
    meterEventStream: options.v2Limit,
  });
}

/** A Stripe side and a seeded database of its own, for code that drives the database itself. */
export interface Stage extends StripeSide {
  bench: BenchDatabase;
  close(): Promise<void>;
}

/** Builds a stage for `mode` on `engine`, rate limits on. */
export async function openStage(
  engine: Engine,
  mode: DeliveryMode,
  options: BenchOptions,
): Promise<Stage> {
  const side = await startStripeSide(mode, options);
  let bench: BenchDatabase | null = null;
  try {
    bench = await freshDatabase(engine, options.databaseUrl);
    await seedDatabase(bench.database.db, side, mode);
    await liveLimits(side, options);
    const opened = bench;
    return {
      ...side,
      bench: opened,
      async close() {
        await opened.close();
        await side.emulator.close();
      },
    };
  } catch (err) {
    await bench?.close().catch(() => {});
    await side.emulator.close().catch(() => {});
    throw err;
  }
}

/**
 * Usage records name a subscription item, not a customer and meter: each customer gets a
 * subscription to one metered price; returns the item of each customer key.
 */
async function subscribeAll(
  stripe: Stripe,
  customers: SeededCustomer[],
): Promise<Map<string, string>> {
  const price = await stripe.prices.create({
    currency: "usd",
    unit_amount: 1,
    product_data: { name: "Bench API calls" },
    recurring: { interval: "month", usage_type: "metered" },
    lookup_key: EVENT_NAME,
  });
  const items = new Map<string, string>();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < customers.length; i = next++) {
      const c = customers[i];
      if (!c) continue;
      const sub = await stripe.subscriptions.create({
        customer: c.stripeId,
        items: [{ price: price.id }],
      });
      const item = sub.items.data[0];
      if (!item) throw new Error(`subscription ${sub.id} has no item`);
      items.set(c.key, item.id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return items;
}
