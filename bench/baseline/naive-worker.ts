/**
 * THE BASELINE: the seed's usage-reporting worker, the one Meterline replaces (README, "The
 * poison pill"; design.md §1), as written: a cron tick that fetches EVERY pending row, then for
 * each row, one by one, awaits one Stripe call (the official SDK with its default settings) and
 * marks a success reported with its own UPDATE. No cap on the fetch, no concurrency, no leases,
 * no batched writes; a failure leaves the row pending for the next tick. A tick that overruns
 * its period is followed at once (a cron job that is still running is not started twice).
 *
 * The call is the one-event call of the delivery mode measured, so the ratio per mode compares
 * the two designs on the same Stripe API: v1 meter events; the v2 stream with one event per
 * request (a session made once); legacy usage records (the pinned pre-basil API version).
 *
 * It reads and writes the same usage_events table and talks to the same emulator (latency,
 * limits) as Meterline in the same run, so the ratio compares designs and nothing else.
 */
import { sql } from "drizzle-orm";
import Stripe from "stripe";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import type { Mode } from "../options.ts";

/** What the naive worker is pointed at, and for how long it is measured. */
export interface NaiveWorkerOptions {
  db: Db;
  /** Which Stripe API it calls, one event per call. */
  mode: Mode;
  /** The emulator's base URL and key. */
  stripeUrl: string;
  stripeKey: string;
  /** Its cron period. */
  tickMs: number;
  /**
   * Measurement window, from the end of the first fetch (its time is reported apart: with
   * 100,000 rows it is seconds, and would make the rate depend on the window's length); no
   * send starts after it ends.
   */
  windowMs: number;
  /** Called when the window begins (the first fetch has ended): the CPU count starts there. */
  onWindowStart?: () => void | Promise<void>;
}

/** What the naive worker achieved inside its window. */
export interface NaiveWorkerResult {
  /** Events marked reported before the window ended. */
  reported: number;
  /** Calls that failed (left pending). */
  failed: number;
  /** The first failure's message, so a failing baseline says why. */
  firstError: string | null;
  /** Ticks started. */
  ticks: number;
  /** Rows the first tick fetched (all pending: the seed has no LIMIT). */
  firstFetchRows: number;
  /** How long that first fetch took, ms. */
  firstFetchMs: number;
  /** The window actually measured, ms. */
  windowMs: number;
}

interface PendingRow extends Record<string, unknown> {
  id: string;
  event_name: string;
  value: number;
  occurred_s: number;
  stripe_customer_id: string;
  subscription_item_id: string | null;
}

/** The seed's call for one row, in `mode`. */
function caller(stripe: Stripe, mode: Mode): (row: PendingRow) => Promise<unknown> {
  if (mode === "meter_events") {
    return (row) =>
      stripe.billing.meterEvents.create({
        event_name: row.event_name,
        payload: { stripe_customer_id: row.stripe_customer_id, value: String(row.value) },
        identifier: row.id,
        timestamp: Math.floor(row.occurred_s),
      });
  }
  if (mode === "meter_stream") {
    let token: Promise<string> | null = null;
    return async (row) => {
      token ??= stripe.v2.billing.meterEventSession.create().then((s) => s.authentication_token);
      return stripe.v2.billing.meterEventStream.create(
        {
          events: [
            {
              event_name: row.event_name,
              payload: { stripe_customer_id: row.stripe_customer_id, value: String(row.value) },
              identifier: row.id,
              timestamp: new Date(row.occurred_s * 1000).toISOString(),
            },
          ],
        },
        { apiKey: await token },
      );
    };
  }
  return (row) =>
    stripe.rawRequest(
      "POST",
      `/v1/subscription_items/${encodeURIComponent(row.subscription_item_id ?? "")}/usage_records`,
      { quantity: row.value, timestamp: Math.floor(row.occurred_s), action: "increment" },
      // Usage records exist only before 2025-03-31.basil (see src/reporter/sinks/usage-records.ts).
      { apiVersion: "2024-09-30.acacia" },
    );
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
  const call = caller(stripe, options.mode);
  // Until the first fetch has ended, the window has not begun.
  let end = Number.POSITIVE_INFINITY;
  const result: NaiveWorkerResult = {
    reported: 0,
    failed: 0,
    firstError: null,
    ticks: 0,
    firstFetchRows: 0,
    firstFetchMs: Number.NaN,
    windowMs: options.windowMs,
  };

  while (Date.now() < end) {
    const tickStart = Date.now();
    result.ticks++;
    // Every pending row, oldest first: the seed has no LIMIT.
    const pending = await rows<PendingRow>(
      options.db,
      sql`select e.id, e.event_name, e.value::float8 as value,
                 extract(epoch from e.occurred_at)::float8 as occurred_s, c.stripe_customer_id,
                 si.subscription_item_id
          from usage_events e
          join customers c on c.key = e.customer_key
          left join subscription_items si
            on si.customer_key = e.customer_key and si.event_name = e.event_name
          where e.status = 'pending'
          order by e.received_at`,
    );
    if (result.ticks === 1) {
      result.firstFetchRows = pending.length;
      result.firstFetchMs = Date.now() - tickStart;
      await options.onWindowStart?.();
      end = Date.now() + options.windowMs;
    }
    for (const row of pending) {
      if (Date.now() >= end) break;
      try {
        await call(row);
        await options.db.execute(
          sql`update usage_events set status = 'reported', reported_at = now() where id = ${row.id}`,
        );
        if (Date.now() <= end) result.reported++;
      } catch (err) {
        result.failed++;
        result.firstError ??= err instanceof Error ? err.message.slice(0, 200) : String(err);
      }
    }
    // Sleep until the next tick, as a cron schedule would (one that overran starts at once).
    const wait = Math.min(tickStart + options.tickMs, end) - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return result;
}
