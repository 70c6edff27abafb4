/**
 * Table 1: events accepted → reported, per delivery mode and database, against the emulator
 * with realistic latency and Stripe's live rate limits — and the naive baseline worker on the
 * same load, in the same run, for the ratio. "Accepted → reported" runs from the first POST of
 * the load to the last reported_at: ingest and reporting overlap, as in production.
 */
import { loadConfig } from "../src/config.ts";
import type { DeliveryMode } from "../src/db/schema/meters.ts";
import { createStripeClient } from "../src/reporter/stripe-client.ts";
import { startSystem } from "../src/system.ts";
import { type BaselineResult, measureBaseline } from "./baseline/measure.ts";
import type { BenchOptions, Engine } from "./options.ts";
import { postEvents } from "./support/api.ts";
import { createTarget } from "./support/database.ts";
import { phase, say } from "./support/progress.ts";
import {
  describePending,
  eventBody,
  ingestKey,
  pendingCount,
  standing,
  throttledAttempts,
} from "./support/seed.ts";
import { loadSink, SINKS } from "./support/sinks.ts";
import { liveLimits, seedDatabase, startStripeSide } from "./support/stage.ts";
import { num, rate, ratio, seconds, type Table } from "./table.ts";

/** Events per POST: the API's maximum batch. */
const BATCH = 1_000;
/** A run that makes no progress for this long is reported as stalled, not waited on forever. */
const STALL_MS = 30_000;
/** How often a run's progress is polled. */
const POLL_MS = 1_000;

/** One mode on one engine. */
interface ModeResult {
  engine: Engine;
  mode: DeliveryMode;
  /** Set when the mode was not measured. */
  skipped: string | null;
  events: number;
  ingestMs: number;
  acceptedToReportedMs: number;
  reported: number;
  failed: number;
  throttled: number;
  ledgerAccepted: number;
  /** Set when it stopped making progress: no throughput figure is printed for it. */
  stalled: boolean;
  note: string | null;
}

/** How many events a mode is measured with: usage records are limited to 25 requests/s. */
function eventsFor(mode: DeliveryMode, options: BenchOptions): number {
  return mode === "usage_records"
    ? Math.min(options.events, options.quick ? 200 : 500)
    : options.events;
}

async function measureMode(
  engine: Engine,
  mode: DeliveryMode,
  options: BenchOptions,
): Promise<ModeResult> {
  const events = eventsFor(mode, options);
  const base: ModeResult = {
    engine,
    mode,
    skipped: null,
    events,
    ingestMs: Number.NaN,
    acceptedToReportedMs: Number.NaN,
    reported: 0,
    failed: 0,
    throttled: 0,
    ledgerAccepted: Number.NaN,
    stalled: false,
    note: null,
  };
  // Probe the adapter before building anything: a missing sink costs nothing.
  const probe = await loadSink(
    mode,
    createStripeClient({
      secretKey: "sk_test_probe",
      apiBase: "http://127.0.0.1:9",
      timeoutMs: 1_000,
    }),
  );
  if (!probe.ok) return { ...base, skipped: `not available: ${probe.why}` };

  const side = await startStripeSide(mode, options);
  const target = await createTarget(engine, options.databaseUrl).catch(async (err: unknown) => {
    await side.emulator.close();
    throw err;
  });
  try {
    // Exactly what `meterline start` runs, pointed at the emulator process as at Stripe.
    const config = loadConfig({
      ...target.env,
      HOST: "127.0.0.1",
      PORT: "0",
      // pino would write to stdout, which carries the tables; counts come from the database.
      LOG_LEVEL: "silent",
      STRIPE_SECRET_KEY: side.emulator.apiKey,
      STRIPE_API_BASE: side.emulator.url,
      METERLINE_WORKER_ID: "bench-worker",
      METERLINE_BATCH_SIZE: String(options.workerBatch),
      METERLINE_CONCURRENCY: String(options.workerConcurrency),
      // As against Stripe with a live key (no limit is the default against an emulator).
      METERLINE_RATE_LIMIT: String(options.v1Limit),
    });
    const system = await startSystem(config, { api: true, worker: true });
    try {
      const db = system.database.db;
      await seedDatabase(db, side, mode);
      await liveLimits(side, options);
      const key = await ingestKey(db);
      const apiUrl = system.apiUrl ?? "";
      const bar = phase(`e2e ${mode} on ${engine}`, events);
      const prefix = `e2e-${mode}`;
      const t0 = Date.now();
      for (let from = 0; from < events; from += BATCH) {
        const n = Math.min(BATCH, events - from);
        const body = JSON.stringify({
          events: Array.from({ length: n }, (_, j) =>
            eventBody(prefix, from + j, options.customers),
          ),
        });
        const res = await postEvents(apiUrl, key, body);
        if (res.error !== null) throw new Error(`POST /v1/events: ${res.status} ${res.error}`);
      }
      base.ingestMs = Date.now() - t0;
      // Poll rarely and cheaply (see pendingCount): the figure comes from reported_at, not
      // from when the poll noticed.
      let pending = await pendingCount(db);
      let lastProgress = Date.now();
      while (pending > 0) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        const now = await pendingCount(db);
        if (now < pending) lastProgress = Date.now();
        pending = now;
        bar.update(events - now);
        if (Date.now() - lastProgress > STALL_MS) {
          base.stalled = true;
          base.note = `stalled: ${now} still pending after ${STALL_MS / 1000} s without progress (${await describePending(db)})`;
          break;
        }
      }
      const last = await standing(db);
      base.reported = last.reported;
      base.failed = last.failed;
      base.acceptedToReportedMs = last.lastReportedMs - t0;
      base.throttled = await throttledAttempts(db);
      const ledger = await side.emulator.ledger();
      base.ledgerAccepted = ledger.accepted + ledger.usageRecords;
      bar.finish(
        base.stalled
          ? "stalled"
          : `${num(rate(base.reported, base.acceptedToReportedMs))} events/s`,
      );
      return base;
    } finally {
      await system.stop();
    }
  } finally {
    await target.drop();
    await side.emulator.close();
  }
}

/** Runs the end-to-end table (and the baseline table) on the reachable engines. */
export async function runE2e(
  options: BenchOptions,
  engines: Engine[],
  footer: string[],
): Promise<Table[]> {
  const results: ModeResult[] = [];
  const baselines = new Map<Engine, BaselineResult>();
  for (const engine of engines) {
    try {
      baselines.set(engine, await measureBaseline(engine, options));
    } catch (err) {
      say(`baseline on ${engine} failed: ${String(err)}`);
    }
    for (const mode of options.modes) {
      try {
        results.push(await measureMode(engine, mode, options));
      } catch (err) {
        say(`e2e ${mode} on ${engine} failed: ${String(err)}`);
        results.push({
          engine,
          mode,
          skipped: `failed: ${String(err).slice(0, 200)}`,
          events: eventsFor(mode, options),
          ingestMs: Number.NaN,
          acceptedToReportedMs: Number.NaN,
          reported: 0,
          failed: 0,
          throttled: 0,
          ledgerAccepted: Number.NaN,
          stalled: false,
          note: null,
        });
      }
    }
  }

  const baselineRate = (engine: Engine) => {
    const b = baselines.get(engine);
    return b ? rate(b.reported, b.windowMs) : Number.NaN;
  };
  const e2e: Table = {
    title: "End-to-end throughput: events accepted → reported (Meterline reporter)",
    columns: [
      "engine",
      "mode",
      "events",
      "ingest s",
      "accepted→reported s",
      "events/s",
      "÷ baseline",
      "reported",
      "failed",
      "429s",
      "emulator got",
      "note",
    ],
    rows: results.map((r) => {
      if (r.skipped)
        return [r.engine, r.mode, num(r.events), "", "", "", "", "", "", "", "", r.skipped];
      // A stalled run has no accepted → reported time: the last event was never reported.
      const elapsed = r.stalled ? Number.NaN : r.acceptedToReportedMs;
      return [
        r.engine,
        r.mode,
        num(r.events),
        seconds(r.ingestMs),
        seconds(elapsed),
        num(rate(r.reported, elapsed)),
        ratio(rate(r.reported, elapsed), baselineRate(r.engine)),
        num(r.reported),
        num(r.failed),
        num(r.throttled),
        num(r.ledgerAccepted),
        r.note ?? "",
      ];
    }),
    notes: [
      `Method: Meterline runs as \`meterline start\` does (startSystem: API on a real socket + one reporter worker, in the bench process) with STRIPE_SECRET_KEY/STRIPE_API_BASE pointing at the emulator process, METERLINE_BATCH_SIZE=${options.workerBatch}, METERLINE_CONCURRENCY=${options.workerConcurrency}, METERLINE_RATE_LIMIT=${options.v1Limit} (the limit a live key gets), other settings default. Events are POSTed in batches of ${BATCH} to /v1/events while the worker runs. "accepted→reported" = first POST → last reported_at; events/s = reported ÷ that.`,
      `Stripe: the bundled emulator in its own process, latency ${options.latencyMs} ms ± ${options.jitterMs} ms per usage request, rate limits in live mode: v1 meter events ${num(options.v1Limit)}/s, v2 stream ${num(options.v2Limit)} requests/s, usage records under the emulator's general live limits (100/s, 25/s per endpoint) — so usage_records runs use at most ${options.quick ? 200 : 500} events.`,
      `${num(options.customers)} customers, one meter; events round-robin over customers (Stripe allows one request in flight per customer × meter). "429s" counts attempts settled as throttled (429 from the emulator); "emulator got" counts meter events and usage records the emulator accepted (more than reported means resends).`,
      ...options.modes.map((m) => `${m}: ${SINKS[m].describe}.`),
      "PGlite on disk in a temporary folder, as `npm start` keeps it: one connection shared by the API and the reporter. Postgres: a pool of 10 per process, as `meterline start` uses.",
      ...footer,
    ],
  };
  const baseline: Table = {
    title: "Baseline: the naive worker (bench/baseline/naive-worker.ts) on the same load",
    columns: [
      "engine",
      "events queued",
      "tick s",
      "window s",
      "ticks",
      "reported in window",
      "events/s",
      "extrapolated drain of the queue",
      "failed calls",
    ],
    rows: engines.map((engine) => {
      const b = baselines.get(engine);
      if (!b) return [engine, "", "", "", "", "", "", "failed: see stderr"];
      const r = rate(b.reported, b.windowMs);
      return [
        engine,
        num(b.events),
        num(options.baselineTickS),
        seconds(b.windowMs),
        num(b.ticks),
        num(b.reported),
        num(r, 1),
        Number.isFinite(r) && r > 0 ? `${num(b.events / r / 60, 1)} min` : "–",
        num(b.failed),
      ];
    }),
    notes: [
      `Every ${options.baselineTickS} s: fetch up to 100 pending rows, send each with await stripe.billing.meterEvents.create (default SDK settings), UPDATE each success. Measured over a fixed ${options.baselineWindowS} s window from its first fetch, not a full drain; the drain time is extrapolated linearly (events queued ÷ events/s), which is exact for this design: its rate does not depend on the queue's length.`,
      'Same emulator settings, same database engine and the same events as the Meterline row; "÷ baseline" in the table above divides by this table\'s events/s.',
      ...footer,
    ],
  };
  return [e2e, baseline];
}
