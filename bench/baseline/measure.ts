/**
 * The baseline measurement: the same load (the same number of events, customers and meter,
 * the same emulator settings and database engine) queued up front, then the naive worker run
 * for a fixed window. Its own file so the naive worker itself stays only what it reproduces.
 */
import type { BenchOptions, Engine } from "../options.ts";
import { phase } from "../support/progress.ts";
import { insertBacklog } from "../support/seed.ts";
import { openStage } from "../support/stage.ts";
import { num, rate } from "../table.ts";
import { runNaiveWorker } from "./naive-worker.ts";

/** The baseline on one engine. */
export interface BaselineResult {
  engine: Engine;
  events: number;
  reported: number;
  windowMs: number;
  ticks: number;
  failed: number;
}

/** Measures the naive worker on `engine` over the window, on the same load as the e2e runs. */
export async function measureBaseline(
  engine: Engine,
  options: BenchOptions,
): Promise<BaselineResult> {
  const stage = await openStage(engine, "meter_events", options);
  try {
    const db = stage.bench.database.db;
    // The same load, already accepted: the naive worker has no API of its own to go through.
    await insertBacklog(db, {
      prefix: "baseline",
      n: options.events,
      customerCount: options.customers,
    });
    const windowMs = options.baselineWindowS * 1000;
    const bar = phase(
      `baseline (naive worker) on ${engine}, ${options.baselineWindowS} s`,
      windowMs,
    );
    const started = Date.now();
    const timer = setInterval(() => bar.update(Math.min(windowMs, Date.now() - started)), 500);
    const result = await runNaiveWorker({
      db,
      stripeUrl: stage.emulator.url,
      stripeKey: stage.emulator.apiKey,
      tickMs: options.baselineTickS * 1000,
      fetchLimit: 100,
      windowMs,
    }).finally(() => clearInterval(timer));
    bar.finish(
      `${result.reported} reported, ${num(rate(result.reported, result.windowMs), 1)} events/s`,
    );
    return {
      engine,
      events: options.events,
      reported: result.reported,
      windowMs: result.windowMs,
      ticks: result.ticks,
      failed: result.failed,
    };
  } finally {
    await stage.close();
  }
}
