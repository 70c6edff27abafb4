import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import { afterAll, beforeAll } from "vitest";
import type { Config } from "../../src/config.ts";
import type { Database, Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { ATTEMPT_HISTORY } from "../../src/outbox/attempt-history.ts";
import type { ReporterLogger } from "../../src/reporter/logger.ts";
import type { ReporterMetrics } from "../../src/reporter/reporter-metrics.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import { fromMeterStream } from "../../src/reporter/sinks/meter-stream.ts";
import type { UsageSink } from "../../src/reporter/sinks/port.ts";
import { fromUsageRecords } from "../../src/reporter/sinks/usage-records.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { type Reporter, startReporter } from "../../src/reporter/worker.ts";
import { freshDatabase } from "../support/db.ts";
import { settings as defaults } from "./fixtures.ts";

/** The key the tests' emulator accepts. */
export const KEY = "sk_test_reporter";

/** Small timings, so suites finish in seconds; no test asserts on how fast. */
export function testSettings(overrides: Partial<Config["worker"]> = {}): Config["worker"] {
  return {
    ...defaults,
    id: "worker-test",
    batchSize: 50,
    concurrency: 16,
    pollMs: 20,
    leaseMs: 10_000,
    backoffBaseMs: 10,
    backoffMaxMs: 200,
    haltProbeMs: 200,
    ...overrides,
  };
}

/** A logger that keeps every line, for a failing test to print. */
export function memoryLogger(): ReporterLogger & { lines: Array<[string, object, string]> } {
  const lines: Array<[string, object, string]> = [];
  const at = (level: string) => (obj: object, msg: string) => {
    lines.push([level, obj, msg]);
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** The real emulator, and an SDK client pointed at it the way Meterline points its own. */
export async function emulator(): Promise<{ emu: RunningEmulator; stripe: Stripe }> {
  const emu = await startEmulator({ port: 0, apiKeys: [KEY] });
  const stripe = createStripeClient({ secretKey: KEY, apiBase: emu.url, timeoutMs: 5_000 });
  return { emu, stripe };
}

/** What a reporter suite works against: its own database and a running emulator. */
export interface ReporterSuite {
  database: Database;
  env: { emu: RunningEmulator; stripe: Stripe };
}

/**
 * Opens a fresh database of `kind` and starts the emulator before the suite's tests, and closes
 * both after them. The fields are set by the time any test runs.
 */
export function reporterSuite(kind: Database["kind"]): ReporterSuite {
  const suite = {} as ReporterSuite;
  beforeAll(async () => {
    suite.database = await freshDatabase(kind);
    suite.env = await emulator();
  });
  afterAll(async () => {
    await suite.env?.emu.close();
    await suite.database?.close();
  });
  return suite;
}

/** Starts a reporter sending v1 meter events through `stripe`. */
export function reporter(
  db: Db,
  stripe: Stripe,
  settings: Config["worker"],
  logger: ReporterLogger = memoryLogger(),
): Reporter {
  const sink = fromMeterEvents(stripe);
  return startReporter({
    db,
    settings,
    sinkFor: (mode) => (mode === "meter_events" ? sink : undefined),
    logger,
  });
}

/** Starts a reporter with all three sinks, built as system.ts builds them. */
export function reporterAllModes(
  db: Db,
  stripe: Stripe,
  settings: Config["worker"],
  logger: ReporterLogger = memoryLogger(),
  metrics?: ReporterMetrics,
): Reporter {
  const sinks: Record<DeliveryMode, UsageSink> = {
    meter_events: fromMeterEvents(stripe),
    meter_stream: fromMeterStream(stripe),
    usage_records: fromUsageRecords(stripe),
  };
  return startReporter({
    db,
    settings,
    sinkFor: (mode) => sinks[mode],
    logger,
    ...(metrics ? { metrics } : {}),
  });
}

/** Creates a meter in the emulator (through the SDK) and declares it in Meterline. */
export async function declareMeter(
  db: Db,
  stripe: Stripe,
  eventName: string,
  deliveryMode: DeliveryMode = "meter_events",
): Promise<void> {
  const meter = await stripe.billing.meters.create({
    display_name: eventName,
    event_name: eventName,
    default_aggregation: { formula: "sum" },
  });
  await db.insert(meters).values({ eventName, stripeMeterId: meter.id, deliveryMode });
}

/** Creates `n` customers in the emulator and links them in Meterline; returns their keys. */
export async function linkedCustomers(
  db: Db,
  stripe: Stripe,
  prefix: string,
  n: number,
): Promise<Array<{ key: string; stripeId: string }>> {
  const made: Array<{ key: string; stripeId: string }> = [];
  for (let i = 0; i < n; i++) {
    const c = await stripe.customers.create({ name: `${prefix}-${i}` });
    made.push({ key: `${prefix}-${i}`, stripeId: c.id });
  }
  await db
    .insert(customers)
    .values(made.map((c) => ({ key: c.key, stripeCustomerId: c.stripeId })));
  return made;
}

/** Sum of reported values per (Stripe customer, event_name), in the ledger's order and shape. */
export async function reportedSums(
  db: Db,
): Promise<Array<{ customer: string; event_name: string; value: number }>> {
  const sums = await rows<{ customer: string; event_name: string; value: number }>(
    db,
    sql`select c.stripe_customer_id as customer, e.event_name, sum(e.value)::float8 as value
        from usage_events e join customers c on c.key = e.customer_key
        where e.status = 'reported'
        group by 1, 2`,
  );
  return sums
    .map((s) => ({ ...s, value: Number(s.value) }))
    .sort(
      (a, b) => a.customer.localeCompare(b.customer) || a.event_name.localeCompare(b.event_name),
    );
}

/** How many attempt rows have each outcome. */
export async function attemptOutcomes(db: Db): Promise<Record<string, number>> {
  const result = await rows<{ outcome: string; n: number }>(
    db,
    sql`select outcome, count(*)::int as n from ${ATTEMPT_HISTORY} a group by outcome`,
  );
  return Object.fromEntries(result.map((r) => [r.outcome, r.n]));
}

/** How many events are still pending. */
export async function pendingCount(db: Db): Promise<number> {
  const [row] = await rows<{ n: number }>(
    db,
    sql`select count(*)::int as n from usage_events where status = 'pending'`,
  );
  return row?.n ?? 0;
}
