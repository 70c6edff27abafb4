import { sql } from "drizzle-orm";
import { customers } from "../db/schema/customers.ts";
import { meters } from "../db/schema/meters.ts";
import { createApiKey, verifyApiKey } from "../ops/api-keys.ts";
import { createStripeClient } from "../reporter/stripe-client.ts";
import type { System } from "../system.ts";
import { readRuntimeInfo } from "./runtime-info.ts";

/** What the development banner shows: a key, and a customer and meter that accept events. */
export interface DevSeed {
  apiKey: string;
  customerKey: string;
  eventName: string;
}

const CUSTOMER = "acme";
const EVENT_NAME = "api_requests";

/**
 * Development only (bundled emulator): makes sure there is an admin key whose secret can be
 * printed (kept from the last run when still valid), and one customer and meter, linked to the
 * emulator's objects, so that the printed curl example is accepted and reported.
 */
export async function seedDevelopment(system: System): Promise<DevSeed> {
  const { db } = system.database;
  const emulator = system.emulator;
  if (!emulator) throw new Error("seedDevelopment needs the bundled emulator");

  const previous = await readRuntimeInfo(system.config.dataDir);
  const apiKey =
    previous && (await verifyApiKey(db, previous.api_key))
      ? previous.api_key
      : (await createApiKey(db, { name: "development", role: "admin" })).secret;

  const stripe = createStripeClient({
    secretKey: emulator.apiKey,
    apiBase: emulator.url,
    timeoutMs: 5_000,
  });
  const existing = await stripe.billing.meters.list({ limit: 100 });
  const meter =
    existing.data.find((m) => m.event_name === EVENT_NAME) ??
    (await stripe.billing.meters.create({
      display_name: "API requests",
      event_name: EVENT_NAME,
      default_aggregation: { formula: "sum" },
    }));
  await db
    .insert(meters)
    .values({ eventName: EVENT_NAME, stripeMeterId: meter.id })
    .onConflictDoUpdate({
      target: meters.eventName,
      set: { stripeMeterId: meter.id, updatedAt: sql`now()` },
    });

  const [current] = await db.select().from(customers).where(sql`${customers.key} = ${CUSTOMER}`);
  const known = current?.stripeCustomerId
    ? await stripeCustomerExists(stripe, current.stripeCustomerId)
    : false;
  if (!known) {
    const created = await stripe.customers.create({
      name: "Acme (example)",
      metadata: { meterline_key: CUSTOMER },
    });
    await db
      .insert(customers)
      .values({ key: CUSTOMER, stripeCustomerId: created.id })
      .onConflictDoUpdate({
        target: customers.key,
        set: {
          stripeCustomerId: created.id,
          status: "active",
          deletedAt: null,
          updatedAt: sql`now()`,
        },
      });
  }
  return { apiKey, customerKey: CUSTOMER, eventName: EVENT_NAME };
}

async function stripeCustomerExists(
  stripe: ReturnType<typeof createStripeClient>,
  id: string,
): Promise<boolean> {
  try {
    const customer = await stripe.customers.retrieve(id);
    return !customer.deleted;
  } catch {
    return false;
  }
}
