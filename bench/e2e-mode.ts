/**
 * One end-to-end run: one delivery mode on one engine. Meterline runs as in production, each
 * part its own process spawned from bin/meterline.js — on Postgres `meterline serve` (the API)
 * and `meterline worker`; on PGlite `meterline start` (API and worker in one process: the
 * embedded database is one process's) — pointed at the emulator process as at Stripe. The
 * bench POSTs the events and watches them get reported; CPU is read per process over the run.
 */
import { sql } from "drizzle-orm";
import type { Database } from "../src/db/connect.ts";
import { rows } from "../src/db/rows.ts";
import { createApiKey } from "../src/ops/api-keys.ts";
import { GROUP } from "./baseline/measure.ts";
import type { BenchOptions, Engine, Mode } from "./options.ts";
import { closeClient, pendingViaApi, postEvents } from "./support/api.ts";
import { type Accounted, startProcessCpu } from "./support/cpu.ts";
import {
  createTarget,
  type DatabaseTarget,
  openTarget,
  vacuumAnalyze,
} from "./support/database.ts";
import { type MeterlineProcess, spawnMeterline } from "./support/meterline-process.ts";
import { type PostgresCpu, startPostgresCpu, withApplicationName } from "./support/postgres-cpu.ts";
import { phase } from "./support/progress.ts";
import { eventBody, ingestKey, pendingCount, SEEDED_TABLES, standing } from "./support/seed.ts";
import { liveLimits, seedDatabase, startStripeSide } from "./support/stage.ts";
import { num, rate, steadyRate } from "./table.ts";

/** Events per POST: the API's maximum batch. */
export const BATCH = 1_000;
/** POSTs in flight while the load is sent: a producer with a few connections. */
export const POSTS_IN_FLIGHT = 4;
/** A run that makes no progress for this long is reported as stalled, not waited on forever. */
const STALL_MS = 30_000;
/** The worker id the runs use (its row in `workers` says it is up). */
const WORKER_ID = "bench-worker";

/** The CPU of one run, per process (ms over the run), and why a figure is missing. */
export interface RunCpu {
  /** Process label → CPU ms: "api", "worker", "start", "emulator", "postgres_api", … */
  ms: Record<string, number>;
  note: string | null;
}

/** One mode on one engine. */
export interface ModeResult {
  engine: Engine;
  mode: Mode;
  events: number;
  ingestMs: number;
  /** First POST → last reported_at. */
  acceptedToReportedMs: number;
  /** Events/s between the 10th and 90th percentile of reported_at (table.ts steadyRate). */
  steadyPerS: number;
  /** When the processes stopped being measured (all reported, or stalled): first POST → then. */
  measuredMs: number;
  reported: number;
  failed: number;
  /** 429s the emulator answered on the mode's endpoint. */
  throttled: number;
  /** Requests that reached the mode's endpoint. */
  requests: number;
  ledgerAccepted: number;
  stalled: boolean;
  note: string | null;
  cpu: RunCpu;
  /** The warm-up sent before the clock (none: the run was measured cold). */
  warmup: Warmup | null;
  /** What the run's setup read after it (RunSetup.read). */
  extra: Record<string, number>;
}

/** The warm-up of a run: events sent through its processes before the clock, and their CPU. */
export interface Warmup {
  events: number;
  /** First POST → nothing pending. */
  ms: number;
  cpu: RunCpu;
}

/** What a table other than e2e changes in a run: its database, Meterline's environment, and reads after it. */
export interface RunSetup {
  /** The empty or pre-seeded database to run in (default: a fresh, empty one). */
  target?: (engine: Engine) => Promise<DatabaseTarget>;
  /** Added to every Meterline process's environment. */
  env?: Record<string, string>;
  /** Read from the database once the processes have stopped. */
  read?: (database: Database) => Promise<Record<string, number>>;
  /** False: no warm-up, whatever the options say (a table whose figures count from the start). */
  warmup?: boolean;
}

/** The environment every Meterline process of a run gets (besides where its database is). */
function meterlineEnv(
  side: { emulator: { url: string; apiKey: string } },
  options: BenchOptions,
): Record<string, string> {
  return {
    STRIPE_SECRET_KEY: side.emulator.apiKey,
    STRIPE_API_BASE: side.emulator.url,
    METERLINE_WORKER_ID: WORKER_ID,
    METERLINE_BATCH_SIZE: String(options.workerBatch),
    METERLINE_CONCURRENCY: String(options.workerConcurrency),
    // As against Stripe with a live key (no limit is the default against an emulator).
    METERLINE_RATE_LIMIT: String(options.v1Limit),
  };
}

/** Waits until the worker's heartbeat row exists: it is claiming. */
async function workerUp(database: Database, worker: MeterlineProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (worker.exited()) throw new Error(`meterline worker exited: ${worker.tail()}`);
    const [row] = await rows<{ n: number }>(
      database.db,
      sql`select count(*)::int as n from workers where id = ${WORKER_ID}`,
    );
    if ((row?.n ?? 0) > 0) return;
    if (Date.now() > deadline)
      throw new Error(`meterline worker not up within 60 s: ${worker.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The steady window's edges, read from reported_at. */
async function reportedPercentiles(
  database: Database,
  idPrefix: string,
): Promise<{ n: number; t10: number; t90: number }> {
  const [row] = await rows<{ n: number; t10: number | null; t90: number | null }>(
    database.db,
    sql`select count(*)::int as n,
               (extract(epoch from percentile_disc(0.1) within group (order by reported_at)) * 1000)::float8 as t10,
               (extract(epoch from percentile_disc(0.9) within group (order by reported_at)) * 1000)::float8 as t90
          from usage_events where status = 'reported' and id like ${`${idPrefix}%`}`,
  );
  return {
    n: row?.n ?? 0,
    t10: row?.t10 == null ? Number.NaN : Number(row.t10),
    t90: row?.t90 == null ? Number.NaN : Number(row.t90),
  };
}

/** What the tables a run writes are: cleaned after the warm-up. */
const RUN_TABLES = [
  "usage_events",
  "usage_event_claims",
  "usage_event_attempts",
  "usage_event_requests",
  "usage_event_counts",
] as const;

/** The POST bodies of `events` events whose ids start with `prefix`. */
function eventBodies(prefix: string, events: number, customers: number): string[] {
  const bodies: string[] = [];
  for (let from = 0; from < events; from += BATCH) {
    const n = Math.min(BATCH, events - from);
    bodies.push(
      JSON.stringify({
        events: Array.from({ length: n }, (_, j) => eventBody(prefix, from + j, customers)),
      }),
    );
  }
  return bodies;
}

/** Where a load is sent and how its progress is read. */
interface LoadContext {
  apiUrl: string;
  key: string;
  /** Events "Stripe" holds on the mode's endpoint: the emulator's own counter. */
  applied: () => Promise<number>;
  /** Events still pending in Meterline's outbox. */
  pending: () => Promise<number>;
  pollMs: number;
  children: MeterlineProcess[];
}

/** A load sent and drained, measured. */
interface MeasuredLoad {
  /** When its first POST left. */
  t0: number;
  ingestMs: number;
  /** First POST → nothing pending (or the stall). */
  measuredMs: number;
  stalledNote: string | null;
  cpu: RunCpu;
}

/**
 * POSTs `bodies` (`events` events in all), then waits until the emulator holds them and nothing
 * is pending, with the CPU of `processes` (and on Postgres the backends') counted meanwhile.
 */
async function measureLoad(
  load: LoadContext,
  bodies: string[],
  events: number,
  processes: Record<string, Accounted>,
  postgresUrl: string | null,
  bar: { update(n: number): void },
): Promise<MeasuredLoad> {
  const pgCpu: PostgresCpu | null = postgresUrl ? await startPostgresCpu(postgresUrl) : null;
  const base = await load.applied();
  const cpu = startProcessCpu(processes);
  const t0 = Date.now();
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const res = await postEvents(load.apiUrl, load.key, bodies[i] ?? "");
      if (res.error !== null) throw new Error(`POST /v1/events: ${res.status} ${res.error}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(POSTS_IN_FLIGHT, bodies.length) }, lane));
  const ingestMs = Date.now() - t0;

  // Progress is read from the emulator (its own process, a counter): polling the database
  // would put the bench's queries into what is measured (on PGlite, into `start` itself).
  // Once "Stripe" holds every event, the database is polled for the last settles.
  let stalledNote: string | null = null;
  const exitedNote = () => {
    const gone = load.children.find((c) => c.exited());
    return gone ? `a Meterline process exited: ${gone.tail().slice(-300)}` : null;
  };
  let got = 0;
  let lastProgress = Date.now();
  while (got < events) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = (await load.applied()) - base;
    if (now > got) lastProgress = Date.now();
    got = now;
    bar.update(Math.min(events, got));
    stalledNote = exitedNote();
    if (stalledNote) break;
    if (Date.now() - lastProgress > STALL_MS) break;
  }
  let left = stalledNote ? 0 : await load.pending();
  lastProgress = Date.now();
  while (left !== 0 && stalledNote === null) {
    await new Promise((resolve) => setTimeout(resolve, load.pollMs));
    const now = await load.pending();
    if (now < left || Number.isNaN(left)) lastProgress = Date.now();
    left = now;
    stalledNote = exitedNote();
    if (Date.now() - lastProgress > STALL_MS) {
      stalledNote = `stalled: ${now} still pending after ${STALL_MS / 1000} s without progress (the emulator holds ${num(got)} of ${num(events)})`;
    }
  }
  const measuredMs = Date.now() - t0;
  const cpuMs = cpu.stop();
  let cpuNote: string | null = null;
  if (pgCpu) {
    const pg = await pgCpu.stop();
    cpuNote = pg.why;
    cpuMs.postgres_api = pg.byApp ? (pg.byApp["meterline-api"] ?? 0) : Number.NaN;
    cpuMs.postgres_worker = pg.byApp ? (pg.byApp["meterline-worker"] ?? 0) : Number.NaN;
  }
  return { t0, ingestMs, measuredMs, stalledNote, cpu: { ms: cpuMs, note: cpuNote } };
}

/** Runs `mode` on `engine` end to end and measures it. */
export async function measureMode(
  engine: Engine,
  mode: Mode,
  options: BenchOptions,
  setup: RunSetup = {},
): Promise<ModeResult> {
  const events = options.events[mode];
  const side = await startStripeSide(mode, options);
  const makeTarget = setup.target ?? ((e: Engine) => createTarget(e, options.databaseUrl));
  const target = await makeTarget(engine).catch(async (err: unknown) => {
    await side.emulator.close();
    throw err;
  });
  const children: MeterlineProcess[] = [];
  let database: Database | null = null;
  const prefix = `e2e-${mode}`;
  try {
    database = await openTarget(target);
    await seedDatabase(database.db, side, mode);
    const key = await ingestKey(database.db);
    const admin = (await createApiKey(database.db, { name: "bench-admin", role: "admin" })).secret;
    await vacuumAnalyze(database.db, SEEDED_TABLES);
    await liveLimits(side, options);
    const env = { ...meterlineEnv(side, options), ...setup.env };

    let apiUrl: string;
    const processes: Record<string, Accounted> = { emulator: side.emulator.pid, client: "self" };
    if (target.url === null) {
      // PGlite is one process's: the bench lets go of it while `start` runs.
      await database.close();
      database = null;
      const start = await spawnMeterline("start", { ...env, ...target.env }, { api: true });
      children.push(start);
      processes.start = start.pid;
      apiUrl = start.url ?? "";
    } else {
      const serve = await spawnMeterline(
        "serve",
        { ...env, DATABASE_URL: withApplicationName(target.url, "meterline-api") },
        { api: true },
      );
      children.push(serve);
      const worker = await spawnMeterline(
        "worker",
        { ...env, DATABASE_URL: withApplicationName(target.url, "meterline-worker") },
        { api: false },
      );
      children.push(worker);
      await workerUp(database as Database, worker);
      processes.api = serve.pid;
      processes.worker = worker.pid;
      apiUrl = serve.url ?? "";
    }

    const group = GROUP[mode];
    const applied = async () => (await side.emulator.usage())[group]?.appliedEvents ?? 0;
    const load: LoadContext = {
      apiUrl,
      key,
      applied,
      pending: () => (database ? pendingCount(database.db) : pendingViaApi(apiUrl, admin)),
      pollMs: database ? 100 : 250,
      children,
    };

    // The warm-up: a fresh process's CPU per event includes V8's warm-up (compiling the hot
    // paths, growing the young generation), seconds of CPU over its first seconds of load,
    // once per process start. A production process pays it once in days; left in, it made
    // the figure a function of the run's length (v1: 1.20 ms/ev over 5,000 events, 0.59 over
    // 60,000). Measured apart, in its own columns; the rest of the row is the running cost.
    const warmEvents = setup.warmup === false ? 0 : options.warmup[mode];
    let warmup: Warmup | null = null;
    if (warmEvents > 0) {
      const bodies = eventBodies(`warm-${mode}`, warmEvents, options.customers);
      const bar = phase(`warm-up ${mode} on ${engine}`, warmEvents);
      const measured = await measureLoad(load, bodies, warmEvents, processes, target.url, bar);
      if (measured.stalledNote !== null) {
        bar.finish("stalled");
        throw new Error(`the warm-up did not finish: ${measured.stalledNote}`);
      }
      bar.finish(`${num(warmEvents)} events in ${num(measured.measuredMs / 1000, 1)} s`);
      warmup = { events: warmEvents, ms: measured.measuredMs, cpu: measured.cpu };
      // What the warm-up left (dead row versions, statistics) is cleaned as autovacuum would:
      // CI's Postgres runs without it. PGlite's folder is `start`'s while it runs.
      if (database) await vacuumAnalyze(database.db, RUN_TABLES);
    }
    // The run's counts are the emulator's since here: the warm-up's are not the run's.
    const before = (await side.emulator.usage())[group];
    const ledgerBefore = await side.emulator.ledger();

    // Bodies are built before the clock starts: the client's JSON work is not the server's.
    const bodies = eventBodies(prefix, events, options.customers);
    const bar = phase(`e2e ${mode} on ${engine}`, events);
    const run = await measureLoad(load, bodies, events, processes, target.url, bar);
    const { t0, ingestMs, measuredMs, stalledNote } = run;
    const cpuMs = run.cpu.ms;
    const cpuNote = run.cpu.note;
    const usage = (await side.emulator.usage())[group];
    const ledger = await side.emulator.ledger();

    // Stop Meterline before reading: on PGlite the bench can only open the folder then.
    for (const child of children.splice(0).reverse()) await child.stop();
    database ??= await openTarget(target);
    // This run's events only: a table may have seeded others (bench/retention.ts).
    const last = await standing(database.db, `${prefix}-`);
    const pct = await reportedPercentiles(database, `${prefix}-`);
    const extra = (await setup.read?.(database)) ?? {};
    const result: ModeResult = {
      engine,
      mode,
      events,
      ingestMs,
      acceptedToReportedMs: last.lastReportedMs - t0,
      steadyPerS: steadyRate(pct.n, pct.t10, pct.t90),
      measuredMs,
      reported: last.reported,
      failed: last.failed,
      throttled: (usage?.throttled ?? 0) - (before?.throttled ?? 0),
      requests: (usage?.requests ?? 0) - (before?.requests ?? 0),
      ledgerAccepted:
        ledger.accepted + ledger.usageRecords - (ledgerBefore.accepted + ledgerBefore.usageRecords),
      stalled: stalledNote !== null,
      note: stalledNote,
      cpu: { ms: cpuMs, note: cpuNote },
      warmup,
      extra,
    };
    bar.finish(
      result.stalled
        ? "stalled"
        : `${num(result.steadyPerS)} events/s steady, ${num(rate(result.reported, result.acceptedToReportedMs))} overall`,
    );
    return result;
  } finally {
    for (const child of children.reverse()) await child.stop().catch(() => {});
    await database?.close().catch(() => {});
    closeClient();
    await target.drop();
    await side.emulator.close();
  }
}
