import { inArray } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { type Customer, customers } from "../db/schema/customers.ts";
import { type Meter, meters } from "../db/schema/meters.ts";

/** The customers and meters a batch refers to, by key and by event_name. */
export interface Lookups {
  customers: Map<string, Customer>;
  meters: Map<string, Meter>;
}

/** Loads the customers and meters of a batch: one query each, however large the batch. */
export async function loadLookups(
  db: Db,
  events: ReadonlyArray<{ customerKey: string; eventName: string }>,
): Promise<Lookups> {
  const keys = [...new Set(events.map((e) => e.customerKey))];
  const names = [...new Set(events.map((e) => e.eventName))];
  const [customerRows, meterRows] = await Promise.all([
    keys.length ? db.select().from(customers).where(inArray(customers.key, keys)) : [],
    names.length ? db.select().from(meters).where(inArray(meters.eventName, names)) : [],
  ]);
  return {
    customers: new Map(customerRows.map((c) => [c.key, c])),
    meters: new Map(meterRows.map((m) => [m.eventName, m])),
  };
}
