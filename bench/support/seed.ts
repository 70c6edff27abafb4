/**
 * Seeding for the benchmarks: Stripe-side customers and a meter (through the official SDK, as
 * an operator would create them), their Meterline rows, API keys, and events — as API request
 * bodies, or as one `insert … select generate_series` for backlogs too large for any API.
 */

import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { type DeliveryMode, meters } from "../../src/db/schema/meters.ts";
import { createApiKey } from "../../src/ops/api-keys.ts";
import { vacuumAnalyze } from "./database.ts";

/** The meter every benchmark event goes to. */
export const EVENT_NAME = "bench_api_calls";

/** A customer known to both sides. */
export interface SeededCustomer {
  key: string;
  stripeId: string;
}

/** The Meterline key of customer `i`: the SQL backlog insert builds the same keys. */
export function customerKey(i: number): string {
  return `cust-${i}`;
}

/**
 * Creates the meter and `n` customers in the emulator through the SDK, 8 at a time (before rate
 * limits are switched on: setup is not what is measured).
 */
export async function seedStripe(
  stripe: Stripe,
  n: number,
): Promise<{ meterId: string; customers: SeededCustomer[] }> {
  const meter = await stripe.billing.meters.create({
    display_name: EVENT_NAME,
    event_name: EVENT_NAME,
    default_aggregation: { formula: "sum" },
  });
  const made: SeededCustomer[] = new Array(n);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < n; i = next++) {
      const c = await stripe.customers.create({ name: customerKey(i) });
      made[i] = { key: customerKey(i), stripeId: c.id };
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, n) }, lane));
  return { meterId: meter.id, customers: made };
}

/** Declares the meter (with its delivery mode) and the linked customers in Meterline. */
export async function seedMeterline(
  db: Db,
  input: { meterId: string; mode: DeliveryMode; customers: SeededCustomer[] },
): Promise<void> {
  await db
    .insert(meters)
    .values({ eventName: EVENT_NAME, stripeMeterId: input.meterId, deliveryMode: input.mode });
  for (let i = 0; i < input.customers.length; i += 1_000) {
    await db
      .insert(customers)
      .values(
        input.customers
          .slice(i, i + 1_000)
          .map((c) => ({ key: c.key, stripeCustomerId: c.stripeId })),
      );
  }
}

/**
 * What an ingest load needs and nothing more: `count` customers and the meter (ingest checks
 * that they exist, not that they are linked to Stripe), analyzed; returns an ingest key.
 */
export async function seedForIngest(db: Db, count: number): Promise<string> {
  const customers = Array.from({ length: count }, (_, i) => ({
    key: customerKey(i),
    stripeId: `cus_bench${i}`,
  }));
  await seedMeterline(db, { meterId: "mtr_bench", mode: "meter_events", customers });
  const key = await ingestKey(db);
  await vacuumAnalyze(db, SEEDED_TABLES);
  return key;
}

/** A new ingest-role API key's secret. */
export async function ingestKey(db: Db): Promise<string> {
  return (await createApiKey(db, { name: "bench", role: "ingest" })).secret;
}

/** One event as POST /v1/events takes it. */
export interface EventBody {
  id: string;
  customer: string;
  event_name: string;
  value: number;
  timestamp: number;
}

/** Event `i` of a run: customers in turn, so every (customer, meter) lane has work. */
export function eventBody(prefix: string, i: number, customerCount: number): EventBody {
  return {
    id: `${prefix}-${i}`,
    customer: customerKey(i % customerCount),
    event_name: EVENT_NAME,
    value: 1 + (i % 5),
    // Now, truncated to the second: never "in the future", and inside the current period of a
    // subscription created during setup (usage records refuse anything before the period).
    timestamp: Math.floor(Date.now() / 1000),
  };
}

/**
 * Inserts `n` pending events straight into the outbox, `chunk` per statement with
 * generate_series (1,000,000 rows in seconds, not the minutes an API would take).
 * `onChunk` reports progress.
 */
export async function insertBacklog(
  db: Db,
  input: { prefix: string; n: number; customerCount: number; chunk?: number },
  onChunk: (inserted: number) => void = () => {},
): Promise<void> {
  const chunk = input.chunk ?? 100_000;
  // occurred_at = now: after the setup's subscriptions began (usage records refuse a timestamp
  // before the item's period), and never in the future; due a minute ago.
  for (let from = 1; from <= input.n; from += chunk) {
    const to = Math.min(input.n, from + chunk - 1);
    await db.execute(sql`
      insert into usage_events (id, customer_key, event_name, value, occurred_at, next_attempt_at)
      select ${input.prefix} || '-' || g, 'cust-' || (g % ${input.customerCount}), ${EVENT_NAME},
             1 + g % 5, now(), now() - interval '1 minute'
      from generate_series(${from}::int, ${to}::int) g`);
    onChunk(to);
  }
}

/**
 * The tables a bench seeds, for VACUUM ANALYZE before it measures (support/database.ts):
 * fresh statistics and a set visibility map, as autovacuum would leave a long-lived table.
 */
export const SEEDED_TABLES = [
  "customers",
  "meters",
  "subscription_items",
  "api_keys",
  "usage_events",
] as const;

/** Where a run's events stand. */
export interface Standing {
  pending: number;
  reported: number;
  failed: number;
  /** Latest reported_at (ms since epoch), or NaN when none. */
  lastReportedMs: number;
}

/** Counts events by status, and the latest reported_at. */
export async function standing(db: Db, idPrefix = ""): Promise<Standing> {
  const [row] = await rows<{
    pending: number;
    reported: number;
    failed: number;
    last_ms: number | null;
  }>(
    db,
    sql`select count(*) filter (where status = 'pending')::int as pending,
               count(*) filter (where status = 'reported')::int as reported,
               count(*) filter (where status in ('failed', 'discarded'))::int as failed,
               (extract(epoch from max(reported_at)) * 1000)::float8 as last_ms
        from usage_events where id like ${`${idPrefix}%`}`,
  );
  return {
    pending: row?.pending ?? 0,
    reported: row?.reported ?? 0,
    failed: row?.failed ?? 0,
    lastReportedMs: row?.last_ms == null ? Number.NaN : Number(row.last_ms),
  };
}

/**
 * Events not yet settled (pending). Polled only for a run's last settles, once the emulator
 * holds every event (e2e-mode.ts): the bench's queries must not load the database it measures.
 */
export async function pendingCount(db: Db): Promise<number> {
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from usage_events where status = 'pending'`,
  );
  return row?.n ?? 0;
}

/** Reported events: read only at the two edges of a backlog window (a count over 1,000,000 rows is not free). */
export async function reportedCount(db: Db): Promise<number> {
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from usage_events where status = 'reported'`,
  );
  return row?.n ?? 0;
}
