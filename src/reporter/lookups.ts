import { param, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { dateFromEpochMs, epochMs } from "../db/epoch-ms.ts";
import { preparedRows } from "../db/prepared.ts";
import type { Customer } from "../db/schema/customers.ts";
import type { Meter } from "../db/schema/meters.ts";

/** What pre-flight reads of a customer. */
export type LookupCustomer = Pick<Customer, "key" | "stripeCustomerId" | "status" | "deletedAt">;

/** What pre-flight and the choice of sink read of a meter. */
export type LookupMeter = Pick<
  Meter,
  "eventName" | "status" | "deliveryMode" | "customerPayloadKey" | "valuePayloadKey"
>;

/** The customers and meters a batch refers to, by key and by event_name. */
export interface Lookups {
  customers: Map<string, LookupCustomer>;
  meters: Map<string, LookupMeter>;
}

/**
 * Loads the customers and meters of a batch: one prepared statement each, however large the
 * batch. Every claim runs both: as query-builder selects of every column with an `in` list of
 * one parameter per key, each call was a new text for Postgres to plan, and the builder's and
 * the row mapping's work for this process.
 */
export async function loadLookups(
  db: Db,
  events: ReadonlyArray<{ customerKey: string; eventName: string }>,
): Promise<Lookups> {
  const keys = [...new Set(events.map((e) => e.customerKey))];
  const names = [...new Set(events.map((e) => e.eventName))];
  const [customerRows, meterRows] = await Promise.all([
    keys.length ? loadCustomers(db, keys) : [],
    names.length ? loadMeters(db, names) : [],
  ]);
  return {
    customers: new Map(customerRows.map((c) => [c.key, c])),
    meters: new Map(meterRows.map((m) => [m.eventName, m])),
  };
}

async function loadCustomers(db: Db, keys: string[]): Promise<LookupCustomer[]> {
  const found = await preparedRows<Omit<LookupCustomer, "deletedAt"> & { deletedAt: unknown }>(
    db,
    "meterline_lookup_customers",
    customersStatement(keys),
  );
  return found.map((c) => ({ ...c, deletedAt: dateFromEpochMs(c.deletedAt) }));
}

function loadMeters(db: Db, names: string[]): Promise<LookupMeter[]> {
  return preparedRows<LookupMeter>(
    db,
    "meterline_lookup_meters",
    sql`select event_name as "eventName", status, delivery_mode as "deliveryMode",
      customer_payload_key as "customerPayloadKey", value_payload_key as "valuePayloadKey"
      from meters where event_name = any(${param(names)}::text[])`,
  );
}

/** loadCustomers's statement (exported so that a test can read its plan). */
export function customersStatement(keys: string[]): SQL {
  // One array parameter (param(): a bare array would become a list, a new text per size).
  return sql`select key, stripe_customer_id as "stripeCustomerId", status,
      ${epochMs(sql`deleted_at`)} as "deletedAt"
      from customers where key = any(${param(keys)}::text[])`;
}
