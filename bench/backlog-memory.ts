/**
 * Table 3: a real `meterline worker` process (bin/meterline.js, its own Node process) draining
 * a large backlog versus a small one, on Postgres: its peak RSS, events/s and CPU per event
 * over the first seconds of draining. What it checks is design.md §4's "cost per event must not
 * grow with the backlog": a million pending rows should cost neither memory, nor throughput,
 * nor CPU per event. PGlite is not measured: it lives inside one process (a worker child could
 * not share it), and a 1,000,000-row WASM database is not what it is for.
 */
import type { BenchOptions } from "./options.ts";
import { type Figures, put } from "./report.ts";
import { startProcessCpu } from "./support/cpu.ts";
import { vacuumAnalyze } from "./support/database.ts";
import { type MeterlineProcess, spawnMeterline } from "./support/meterline-process.ts";
import { startPostgresCpu, withApplicationName } from "./support/postgres-cpu.ts";
import { readProcMemory } from "./support/proc.ts";
import { phase, say } from "./support/progress.ts";
import { insertBacklog, reportedCount, SEEDED_TABLES } from "./support/seed.ts";
import { openStage } from "./support/stage.ts";
import { cpuCell, mib, num, perEvent, rate, seconds, type Table } from "./table.ts";

/** The small backlog's window ends early once this share is reported: a drained queue is idle, not slow. */
const DRAIN_SHARE = 0.9;
/** How long to wait for the worker's first report before giving up. */
const START_TIMEOUT_MS = 120_000;

/** One backlog size. */
interface BacklogResult {
  backlog: number;
  insertMs: number;
  vacuumMs: number;
  startupMs: number;
  windowMs: number;
  reportedInWindow: number;
  peakRss: number;
  endRss: number;
  throttled: number;
  /** CPU ms in the window: worker, emulator, postgres (the worker's backends). */
  cpuMs: Record<string, number>;
  note: string | null;
}

async function measureBacklog(size: number, options: BenchOptions): Promise<BacklogResult> {
  const stage = await openStage("postgres", "meter_events", options);
  let worker: MeterlineProcess | null = null;
  try {
    const db = stage.bench.database.db;
    const url = stage.bench.target.url;
    if (url === null) throw new Error("the backlog table needs a Postgres URL");
    const insertBar = phase(`backlog: insert ${num(size)} events`, size);
    const insertStart = Date.now();
    await insertBacklog(db, { prefix: "bl", n: size, customerCount: options.customers }, (n) =>
      insertBar.update(n),
    );
    const insertMs = Date.now() - insertStart;
    insertBar.finish(`${num(rate(size, insertMs))} rows/s`);
    const vacuumStart = Date.now();
    await vacuumAnalyze(db, SEEDED_TABLES);
    const vacuumMs = Date.now() - vacuumStart;

    const result: BacklogResult = {
      backlog: size,
      insertMs,
      vacuumMs,
      startupMs: Number.NaN,
      windowMs: Number.NaN,
      reportedInWindow: 0,
      peakRss: Number.NaN,
      endRss: Number.NaN,
      throttled: 0,
      cpuMs: {},
      note: null,
    };
    const spawned = Date.now();
    worker = await spawnMeterline(
      "worker",
      {
        DATABASE_URL: withApplicationName(url, "meterline-worker"),
        STRIPE_SECRET_KEY: stage.emulator.apiKey,
        STRIPE_API_BASE: stage.emulator.url,
        METERLINE_WORKER_ID: "bench-backlog",
        METERLINE_BATCH_SIZE: String(options.workerBatch),
        METERLINE_CONCURRENCY: String(options.workerConcurrency),
        // As against Stripe with a live key, and as the end-to-end table runs it.
        METERLINE_RATE_LIMIT: String(options.v1Limit),
      },
      { api: false },
    );
    const pid = worker.pid;
    const memTimer = setInterval(() => {
      const m = readProcMemory(pid);
      if (m) {
        result.peakRss = Number.isNaN(result.peakRss)
          ? m.peakRss
          : Math.max(result.peakRss, m.peakRss);
        result.endRss = m.rss;
      }
    }, 200);
    const bar = phase(`backlog ${num(size)}: worker draining`, options.backlogWindowS);
    try {
      // Progress from the emulator's counter (its own process): a count(*) over a million
      // rows every few hundred ms would load the Postgres being measured. The database is
      // read once at each edge of the window.
      const reached = async () => (await stage.emulator.usage()).meter_events?.appliedEvents ?? 0;
      let first: { at: number; reported: number; reached: number } | null = null;
      let cpu: ReturnType<typeof startProcessCpu> | null = null;
      let pgCpu: Awaited<ReturnType<typeof startPostgresCpu>> | null = null;
      let throttledAtFirst = 0;
      while (!worker.exited()) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const got = await reached();
        const at = Date.now();
        if (first === null) {
          if (got > 0) {
            // The window opens at the first report: start-up (and its CPU) is not in it.
            cpu = startProcessCpu({ worker: pid, emulator: stage.emulator.pid });
            pgCpu = await startPostgresCpu(url);
            throttledAtFirst = (await stage.emulator.usage()).meter_events?.throttled ?? 0;
            first = { at: Date.now(), reported: await reportedCount(db), reached: got };
            result.startupMs = first.at - spawned;
          } else if (at - spawned > START_TIMEOUT_MS) {
            result.note = `no event reported within ${START_TIMEOUT_MS / 1000} s`;
            break;
          }
          continue;
        }
        bar.update(Math.min(options.backlogWindowS, Math.floor((at - first.at) / 1000)));
        if (at - first.at >= options.backlogWindowS * 1000) break;
        if (got - first.reached >= size * DRAIN_SHARE) {
          result.note = `window ended early: ${Math.round(DRAIN_SHARE * 100)}% of the backlog reported`;
          break;
        }
      }
      const lastAt = Date.now();
      const lastReported = first ? await reportedCount(db) : 0;
      if (cpu) result.cpuMs = cpu.stop();
      if (pgCpu) {
        const pg = await pgCpu.stop();
        result.cpuMs.postgres = pg.byApp ? (pg.byApp["meterline-worker"] ?? 0) : Number.NaN;
        if (pg.why) result.note = [result.note, pg.why].filter(Boolean).join("; ");
      }
      result.throttled =
        ((await stage.emulator.usage()).meter_events?.throttled ?? 0) - throttledAtFirst;
      if (worker.exited()) {
        result.note = `worker exited: ${worker.tail().slice(-300)}`;
      }
      if (first !== null) {
        result.windowMs = lastAt - first.at;
        result.reportedInWindow = lastReported - first.reported;
      }
      // One last read: VmHWM is the process's peak so far, whatever the sampling missed.
      const m = readProcMemory(pid);
      if (m) {
        result.peakRss = m.peakRss;
        result.endRss = m.rss;
      }
    } finally {
      clearInterval(memTimer);
    }
    bar.finish(
      `${num(rate(result.reportedInWindow, result.windowMs))} events/s, peak RSS ${mib(result.peakRss)} MiB`,
    );
    return result;
  } finally {
    await worker?.stop().catch(() => {});
    await stage.close();
  }
}

/** Runs the backlog table (Postgres only; the caller skips it when Postgres is unreachable). */
export async function runBacklog(
  options: BenchOptions,
  footer: () => string[],
): Promise<{ tables: Table[]; figures: Figures }> {
  const results: BacklogResult[] = [];
  for (const size of [options.backlogSmall, options.backlogLarge]) {
    try {
      results.push(await measureBacklog(size, options));
    } catch (err) {
      say(`backlog ${size} failed: ${String(err)}`);
    }
  }
  const figures: Figures = {};
  const small = results.find((r) => r.backlog === options.backlogSmall);
  const large = results.find((r) => r.backlog === options.backlogLarge);
  const perS = (r: BacklogResult | undefined) =>
    r ? rate(r.reportedInWindow, r.windowMs) : Number.NaN;
  const cpuPer = (r: BacklogResult) =>
    perEvent(
      Object.values(r.cpuMs).reduce((a, b) => a + b, 0),
      r.reportedInWindow,
    );
  put(figures, "large", options.backlogLarge);
  put(figures, "small", options.backlogSmall);
  put(figures, "peak_rss_mb", large ? large.peakRss / (1024 * 1024) : Number.NaN);
  put(figures, "ratio_1m_to_10k", perS(large) / perS(small));
  put(figures, "cpu_ratio_1m_to_10k", large && small ? cpuPer(large) / cpuPer(small) : Number.NaN);
  for (const [name, r] of [
    ["at_large", large],
    ["at_small", small],
  ] as const) {
    if (!r) {
      put(figures, `${name}.skipped`, "failed: see stderr");
      continue;
    }
    put(figures, `${name}.backlog`, r.backlog);
    put(figures, `${name}.events_per_s`, perS(r));
    put(figures, `${name}.peak_rss_mb`, r.peakRss / (1024 * 1024));
    put(figures, `${name}.end_rss_mb`, r.endRss / (1024 * 1024));
    put(figures, `${name}.startup_s`, r.startupMs / 1000);
    put(figures, `${name}.window_s`, r.windowMs / 1000);
    put(figures, `${name}.throttled`, r.throttled);
    put(figures, `${name}.cpu_ms_per_event`, cpuPer(r));
    for (const [k, v] of Object.entries(r.cpuMs)) {
      put(figures, `${name}.cpu_ms_per_event_by_process.${k}`, perEvent(v, r.reportedInWindow));
    }
    put(figures, `${name}.note`, r.note);
  }
  return {
    figures,
    tables: [
      {
        title:
          "Backlog: one `meterline worker` process draining a large versus a small backlog (Postgres)",
        columns: [
          "backlog",
          "insert s",
          "vacuum analyze s",
          "start → first report s",
          "window s",
          "reported in window",
          "events/s",
          "÷ small",
          "peak RSS MiB",
          "RSS at end MiB",
          "429s",
          "CPU worker ms/ev",
          "CPU emulator ms/ev",
          "CPU pg ms/ev",
          "note",
        ],
        rows: results.map((r) => [
          num(r.backlog),
          seconds(r.insertMs),
          seconds(r.vacuumMs),
          seconds(r.startupMs),
          seconds(r.windowMs),
          num(r.reportedInWindow),
          num(perS(r)),
          r === small ? "" : num(perS(r) / perS(small), 2),
          mib(r.peakRss),
          mib(r.endRss),
          num(r.throttled),
          cpuCell(perEvent(r.cpuMs.worker ?? Number.NaN, r.reportedInWindow)),
          cpuCell(perEvent(r.cpuMs.emulator ?? Number.NaN, r.reportedInWindow)),
          cpuCell(perEvent(r.cpuMs.postgres ?? Number.NaN, r.reportedInWindow)),
          r.note ?? "",
        ]),
        notes: [
          `The worker is \`meterline worker\` from bin/meterline.js (DATABASE_URL, STRIPE_SECRET_KEY + STRIPE_API_BASE → the emulator process; METERLINE_BATCH_SIZE=${options.workerBatch}, METERLINE_CONCURRENCY=${options.workerConcurrency}, METERLINE_RATE_LIMIT=${options.v1Limit}, other settings default). Peak RSS is the kernel's VmHWM of that process (start-up included); RSS at end is VmRSS when the window closed.`,
          `Backlog inserted with insert … select generate_series (100,000 rows a statement), then VACUUM ANALYZE of every seeded table; all events due, ${num(options.customers)} customers, one meter (v1 meter events, live limit ${num(options.v1Limit)}/s). events/s (reported events, read from the database at both edges) and CPU are measured from the first event the emulator accepted, over ${options.backlogWindowS} s (not a full drain; start-up is outside the window); the small backlog's window may end early once ${Math.round(DRAIN_SHARE * 100)}% is reported. "÷ small": events/s at this backlog ÷ at the small one (at the rate limit, CPU per event is the more sensitive comparison). CPU: worker and emulator from /proc/<pid>/stat, "pg": the worker's Postgres backends.`,
          "Same emulator settings as the end-to-end table (latency, live limits). PGlite is not measured: it is in-process (a worker process cannot share it) and not meant for a 1,000,000-row queue.",
          ...footer(),
        ],
      },
    ],
  };
}
