/**
 * THE BASELINE: the naive usage-reporting worker Meterline replaces (README, "The poison
 * pill"), as a usage-priced product typically first writes it — a cron-style timer that every
 * 10 seconds fetches up to 100 pending rows, then for each row, one by one, awaits
 * `stripe.billing.meterEvents.create` (the official SDK with its default settings) and marks a
 * success reported with its own UPDATE. No concurrency, no leases, no batched writes; a failure
 * simply leaves the row pending for the next tick (which is how one poison event ends up
 * fetched forever — not exercised here: the bench measures only its throughput).
 *
 * It reads and writes the same usage_events table and talks to the same emulator (same latency)
 * as Meterline in the same run, so the ratio compares the two designs and nothing else.
 */
import { sql } from "drizzle-orm";
import Stripe from "stripe";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";

/** What the naive worker is pointed at, and for how long it is measured. */
export interface NaiveWorkerOptions {
  db: Db;
  /** The emulator's base URL and key. */
  stripeUrl: string;
  stripeKey: string;
  /** Its period: one fetch of up to `fetchLimit` rows per tick (10 s, 100 rows). */
  tickMs: number;
  fetchLimit: number;
  /** Measurement window from the first fetch; no send starts after it ends. */
  windowMs: number;
  /** Called after every reported event, for progress. */
  onReported?: (reported: number) => void;
}

/** What the naive worker achieved inside its window. */
export interface NaiveWorkerResult {
  /** Events marked reported before the window ended. */
  reported: number;
  /** Calls that failed (left pending). */
  failed: number;
  /** Ticks started. */
  ticks: number;
  /** The window actually measured, ms. */
  windowMs: number;
}

/** Runs the naive worker for one window and reports what it did. */
export async function runNaiveWorker(options: NaiveWorkerOptions): Promise<NaiveWorkerResult> {
  const url = new URL(options.stripeUrl);
  // Default SDK settings (2 network retries, 80 s timeout): what a first version would use.
  const stripe = new Stripe(options.stripeKey, {
    host: url.hostname,
    port: Number(url.port),
    protocol: url.protocol === "http:" ? "http" : "https",
  });
  const started = Date.now();
  const end = started + options.windowMs;
  const result: NaiveWorkerResult = {
    reported: 0,
    failed: 0,
    ticks: 0,
    windowMs: options.windowMs,
  };

  while (Date.now() < end) {
    const tickStart = Date.now();
    result.ticks++;
    const pending = await rows<{
      id: string;
      event_name: string;
      value: number;
      occurred_s: number;
      stripe_customer_id: string;
    }>(
      options.db,
      sql`select e.id, e.event_name, e.value::float8 as value,
                 extract(epoch from e.occurred_at)::float8 as occurred_s, c.stripe_customer_id
          from usage_events e join customers c on c.key = e.customer_key
          where e.status = 'pending'
          order by e.received_at
          limit ${options.fetchLimit}`,
    );
    for (const row of pending) {
      if (Date.now() >= end) break;
      try {
        await stripe.billing.meterEvents.create({
          event_name: row.event_name,
          payload: { stripe_customer_id: row.stripe_customer_id, value: String(row.value) },
          identifier: row.id,
          timestamp: Math.floor(Number(row.occurred_s)),
        });
        await options.db.execute(
          sql`update usage_events set status = 'reported', reported_at = now() where id = ${row.id}`,
        );
        if (Date.now() <= end) {
          result.reported++;
          options.onReported?.(result.reported);
        }
      } catch {
        result.failed++;
      }
    }
    // Sleep until the next tick, as a cron schedule would (a tick that overruns is not doubled).
    const wait = Math.min(tickStart + options.tickMs, end) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return result;
}
