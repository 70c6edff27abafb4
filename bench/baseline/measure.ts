/**
 * The baseline measurement, per delivery mode: the same load as Meterline's run of that mode
 * (the same number of events, customers and meter, the same emulator settings and database
 * engine) queued up front, then the seed's naive worker run for a fixed window, with the CPU of
 * each process. Its own file so the naive worker itself stays only what it reproduces.
 */
import type { BenchOptions, Engine, Mode } from "../options.ts";
import { type Accounted, type ProcessCpu, startProcessCpu } from "../support/cpu.ts";
import { vacuumAnalyze } from "../support/database.ts";
import { type PostgresCpu, startPostgresCpu } from "../support/postgres-cpu.ts";
import { phase } from "../support/progress.ts";
import { insertBacklog, SEEDED_TABLES } from "../support/seed.ts";
import { openStage } from "../support/stage.ts";
import { num, rate } from "../table.ts";
import { runNaiveWorker } from "./naive-worker.ts";

/** The baseline of one mode on one engine. */
export interface BaselineResult {
  engine: Engine;
  mode: Mode;
  events: number;
  reported: number;
  windowMs: number;
  ticks: number;
  failed: number;
  firstError: string | null;
  firstFetchRows: number;
  firstFetchMs: number;
  /** 429s the emulator answered on the mode's endpoint during the window. */
  throttled: number;
  /** CPU ms in the window: "naive worker" (the bench process), "emulator", "postgres". */
  cpuMs: Record<string, number>;
  /** Why Postgres CPU is missing, when it is. */
  cpuNote: string | null;
}

/** The emulator's name for a mode's endpoint group. */
export const GROUP: Record<Mode, string> = {
  meter_events: "meter_events",
  meter_stream: "meter_event_stream",
  usage_records: "usage_records",
};

/** Measures the naive worker in `mode` on `engine` over the window. */
export async function measureBaseline(
  engine: Engine,
  mode: Mode,
  options: BenchOptions,
): Promise<BaselineResult> {
  const stage = await openStage(engine, mode, options);
  try {
    const db = stage.bench.database.db;
    const events = options.events[mode];
    // The same load, already accepted: the naive worker has no API of its own to go through.
    await insertBacklog(db, { prefix: "baseline", n: events, customerCount: options.customers });
    await vacuumAnalyze(db, SEEDED_TABLES);
    const windowMs = options.baselineWindowS * 1000;
    const bar = phase(
      `baseline (seed's worker) ${mode} on ${engine}, ${options.baselineWindowS} s`,
      windowMs,
    );
    const started = Date.now();
    const timer = setInterval(() => bar.update(Math.min(windowMs, Date.now() - started)), 500);
    // The naive worker runs in the bench process, which does nothing else meanwhile. Its
    // window (and the CPU count) opens once its first fetch of every pending row has ended.
    const processes: Record<string, Accounted> = {
      "naive worker": "self",
      emulator: stage.emulator.pid,
    };
    let pgCpu: PostgresCpu | null = null;
    let cpu: ProcessCpu | null = null;
    let before = 0;
    const result = await runNaiveWorker({
      db,
      mode,
      stripeUrl: stage.emulator.url,
      stripeKey: stage.emulator.apiKey,
      tickMs: options.baselineTickS * 1000,
      windowMs,
      onWindowStart: async () => {
        before = (await stage.emulator.usage())[GROUP[mode]]?.throttled ?? 0;
        if (stage.bench.target.url !== null) pgCpu = await startPostgresCpu(stage.bench.target.url);
        cpu = startProcessCpu(processes);
      },
    }).finally(() => clearInterval(timer));
    const cpuMs: Record<string, number> = (cpu as ProcessCpu | null)?.stop() ?? {};
    const after = (await stage.emulator.usage())[GROUP[mode]]?.throttled ?? 0;
    let cpuNote: string | null = null;
    const pgCounter = pgCpu as PostgresCpu | null;
    if (pgCounter) {
      const pgResult = await pgCounter.stop();
      cpuMs.postgres = pgResult.byApp
        ? Object.values(pgResult.byApp).reduce((a, b) => a + b, 0)
        : Number.NaN;
      cpuNote = pgResult.why;
    }
    bar.finish(
      `${result.reported} reported, ${num(rate(result.reported, result.windowMs), 1)} events/s`,
    );
    return {
      engine,
      mode,
      events,
      reported: result.reported,
      windowMs: result.windowMs,
      ticks: result.ticks,
      failed: result.failed,
      firstError: result.firstError,
      firstFetchRows: result.firstFetchRows,
      firstFetchMs: result.firstFetchMs,
      throttled: after - before,
      cpuMs,
      cpuNote,
    };
  } finally {
    await stage.close();
  }
}
