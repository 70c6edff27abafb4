/**
 * Table 3: a real `meterline worker` process (bin/meterline.js, its own Node process) draining
 * a large backlog versus a small one, on Postgres: its peak RSS, and events/s over the first
 * seconds of draining. What it checks is design.md §4's "cost per event must not grow with the
 * backlog": the claim reads a partial index, so a million pending rows should cost neither
 * memory nor throughput. PGlite is not measured: it lives inside one process (a worker child
 * could not share it), and a 1,000,000-row WASM database is not what it is for.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BenchOptions } from "./options.ts";
import { readProcMemory } from "./support/proc.ts";
import { phase, say } from "./support/progress.ts";
import { insertBacklog, reportedCount, throttledAttempts } from "./support/seed.ts";
import { openStage } from "./support/stage.ts";
import { mib, num, rate, seconds, type Table } from "./table.ts";

const bin = fileURLToPath(new URL("../bin/meterline.js", import.meta.url));
/** The small backlog's window ends early once this share is reported: a drained queue is idle, not slow. */
const DRAIN_SHARE = 0.9;
/** How long to wait for the worker's first report before giving up. */
const START_TIMEOUT_MS = 120_000;

/** One backlog size. */
interface BacklogResult {
  backlog: number;
  insertMs: number;
  startupMs: number;
  windowMs: number;
  reportedInWindow: number;
  peakRss: number;
  endRss: number;
  throttled: number;
  note: string | null;
}

/** Waits for a child to exit; SIGKILLs it (by its pid) if it has not within `ms`. */
function stopChild(child: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

async function measureBacklog(size: number, options: BenchOptions): Promise<BacklogResult> {
  const stage = await openStage("postgres", "meter_events", options);
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

    const result: BacklogResult = {
      backlog: size,
      insertMs,
      startupMs: Number.NaN,
      windowMs: Number.NaN,
      reportedInWindow: 0,
      peakRss: Number.NaN,
      endRss: Number.NaN,
      throttled: 0,
      note: null,
    };
    const child = spawn(process.execPath, [bin, "worker"], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        STRIPE_SECRET_KEY: stage.emulator.apiKey,
        STRIPE_API_BASE: stage.emulator.url,
        LOG_LEVEL: "warn",
        METERLINE_WORKER_ID: "bench-backlog",
        METERLINE_BATCH_SIZE: String(options.workerBatch),
        METERLINE_CONCURRENCY: String(options.workerConcurrency),
        // As against Stripe with a live key, and as the end-to-end table runs it.
        METERLINE_RATE_LIMIT: String(options.v1Limit),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // pino writes JSON lines to stdout, the CLI its failures to stderr: keep a tail of both.
    let tail = "";
    const listen = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-600);
    };
    child.stdout?.on("data", listen);
    child.stderr?.on("data", listen);
    const pid = child.pid;
    if (pid === undefined) throw new Error("could not start the worker process");
    const spawned = Date.now();
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
      let first: { at: number; reported: number } | null = null;
      let last = { at: Date.now(), reported: 0 };
      while (child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        const reported = await reportedCount(db);
        const at = Date.now();
        if (first === null) {
          if (reported > 0) {
            first = { at, reported };
            result.startupMs = at - spawned;
          } else if (at - spawned > START_TIMEOUT_MS) {
            result.note = `no event reported within ${START_TIMEOUT_MS / 1000} s`;
            break;
          }
          continue;
        }
        last = { at, reported };
        bar.update(Math.min(options.backlogWindowS, Math.floor((at - first.at) / 1000)));
        if (at - first.at >= options.backlogWindowS * 1000) break;
        if (reported >= size * DRAIN_SHARE) {
          result.note = `window ended early: ${Math.round(DRAIN_SHARE * 100)}% of the backlog reported`;
          break;
        }
      }
      if (child.exitCode !== null) {
        result.note = `worker exited with ${child.exitCode}: ${tail.trim().slice(-300)}`;
      }
      if (first !== null) {
        result.windowMs = last.at - first.at;
        result.reportedInWindow = last.reported - first.reported;
      }
      result.throttled = await throttledAttempts(db);
      // One last read: VmHWM is the process's peak so far, whatever the sampling missed.
      const m = readProcMemory(pid);
      if (m) {
        result.peakRss = m.peakRss;
        result.endRss = m.rss;
      }
    } finally {
      clearInterval(memTimer);
      await stopChild(child, 20_000);
    }
    bar.finish(
      `${num(rate(result.reportedInWindow, result.windowMs))} events/s, peak RSS ${mib(result.peakRss)} MiB`,
    );
    return result;
  } finally {
    await stage.close();
  }
}

/** Runs the backlog table (Postgres only; the caller skips it when Postgres is unreachable). */
export async function runBacklog(options: BenchOptions, footer: string[]): Promise<Table[]> {
  const results: BacklogResult[] = [];
  for (const size of [options.backlogSmall, options.backlogLarge]) {
    try {
      results.push(await measureBacklog(size, options));
    } catch (err) {
      say(`backlog ${size} failed: ${String(err)}`);
    }
  }
  return [
    {
      title:
        "Backlog: one `meterline worker` process draining a large versus a small backlog (Postgres)",
      columns: [
        "backlog",
        "insert s",
        "start → first report s",
        "window s",
        "reported in window",
        "events/s",
        "peak RSS MiB",
        "RSS at end MiB",
        "429s",
        "note",
      ],
      rows: results.map((r) => [
        num(r.backlog),
        seconds(r.insertMs),
        seconds(r.startupMs),
        seconds(r.windowMs),
        num(r.reportedInWindow),
        num(rate(r.reportedInWindow, r.windowMs)),
        mib(r.peakRss),
        mib(r.endRss),
        num(r.throttled),
        r.note ?? "",
      ]),
      notes: [
        `The worker is \`node bin/meterline.js worker\` (DATABASE_URL, STRIPE_SECRET_KEY + STRIPE_API_BASE → the emulator process; METERLINE_BATCH_SIZE=${options.workerBatch}, METERLINE_CONCURRENCY=${options.workerConcurrency}, METERLINE_RATE_LIMIT=${options.v1Limit}, other settings default). Peak RSS is the kernel's VmHWM of that process (it includes tsx compiling the TypeScript at start); RSS at end is VmRSS when the window closed.`,
        `Backlog inserted with insert … select generate_series (100,000 rows a statement), then ANALYZE; all events due, ${num(options.customers)} customers, one meter. events/s is measured from the first reported event over ${options.backlogWindowS} s (not a full drain); the window of the small backlog may end early once ${Math.round(DRAIN_SHARE * 100)}% is reported.`,
        "Same emulator settings as the end-to-end table (latency, live limits). PGlite is not measured: it is in-process (a worker process cannot share it) and not meant for a 1,000,000-row queue.",
        ...footer,
      ],
    },
  ];
}
