/**
 * The benchmark's flags, parsed once into a plain object (like src/config.ts): every table reads
 * its sizes from here, and every table prints them, so a figure never travels without its
 * parameters. Pure: argv in, options or a usage error out.
 */
import { parseArgs } from "node:util";

/** The tables `--only` can pick. */
export const TABLES = ["e2e", "ingest", "backlog", "retention", "import", "outbox"] as const;
/** One table's name. */
export type TableName = (typeof TABLES)[number];

/** The delivery modes the end-to-end table tries, in order. */
export const MODES = ["meter_events", "meter_stream", "usage_records"] as const;
/** One delivery mode. */
export type Mode = (typeof MODES)[number];
/** The database engines a table can run on. */
export const ENGINES = ["pglite", "postgres"] as const;
/** One database engine. */
export type Engine = (typeof ENGINES)[number];

/** The three presets: a full run, a smoke run of a few minutes, and a shape check of seconds. */
export type Preset = "full" | "quick" | "smoke";

/** Everything a run needs, after defaults and the preset. */
export interface BenchOptions {
  /** Which preset the sizes came from. */
  preset: Preset;
  /** Small sizes for a smoke run (preset quick or smoke). */
  quick: boolean;
  /** Print one JSON document on stdout instead of the tables. */
  json: boolean;
  /** Which tables to run. */
  tables: TableName[];
  /** Which engines to run on (Postgres is skipped anyway when unreachable). */
  engines: Engine[];
  /** Which delivery modes the end-to-end table tries. */
  modes: Mode[];
  /** Admin URL of a Postgres server; the bench creates and drops its own databases in it. */
  databaseUrl: string;
  /** Events per end-to-end run, per delivery mode. */
  events: Record<Mode, number>;
  /** Events of the warm-up that goes through an end-to-end run's processes before its clock. */
  warmup: Record<Mode, number>;
  /** Emulator latency per usage request, ms. */
  latencyMs: number;
  /** ± jitter around the latency, ms. */
  jitterMs: number;
  /** Emulator live-mode limit for v1 meter events, requests/s. */
  v1Limit: number;
  /** Emulator live-mode limit for v2 stream requests, requests/s. */
  v2Limit: number;
  /** Customers the events are spread over (one request in flight per customer × meter). */
  customers: number;
  /** Reporter batch size (METERLINE_BATCH_SIZE). */
  workerBatch: number;
  /** Reporter concurrency (METERLINE_CONCURRENCY). */
  workerConcurrency: number;
  /** How long the naive baseline worker is measured, seconds, per mode and engine. */
  baselineWindowS: number;
  /** The naive worker's cron period, seconds (a tick that overruns is followed at once). */
  baselineTickS: number;
  /** 1,000-event ingest requests per engine. */
  ingestBatches: number;
  /** 1,000-event requests in flight (closed loop). */
  ingestConcurrency: number;
  /** Single-event requests per second of the open loop. */
  ingestRate: number;
  /** Seconds of the open loop that are measured (after a warm-up). */
  ingestDurationS: number;
  /** The large backlog of the memory table. */
  backlogLarge: number;
  /** The small backlog it is compared with. */
  backlogSmall: number;
  /** Seconds of draining measured at each backlog. */
  backlogWindowS: number;
  /** Reported events older than the retention horizon seeded for the retention table. */
  retentionEvents: number;
  /** Pairs of e2e runs (retention off, then on) of the retention table. */
  retentionPairs: number;
  /** Lines of the NDJSON file `meterline import` loads. */
  importLines: number;
  /** Pending events the outbox table claims, marks and settles, per batch shape. */
  outboxEvents: number;
}

/** What parsing argv came to: options to run with, help to print, or a usage error. */
export type Parsed =
  | { kind: "run"; options: BenchOptions }
  | { kind: "help"; text: string }
  | { kind: "error"; message: string };

interface Sizes {
  events: Record<Mode, number>;
  warmup: Record<Mode, number>;
  customers: number;
  baselineWindowS: number;
  ingestBatches: number;
  ingestDurationS: number;
  backlogLarge: number;
  backlogSmall: number;
  backlogWindowS: number;
  retentionEvents: number;
  retentionPairs: number;
  importLines: number;
  outboxEvents: number;
}

// Sized so that a full run takes about 15–20 minutes on a shared 2-core machine: the v2
// stream's 100,000 events make its steady rate outweigh the first claim and the session.
const SIZES: Record<Preset, Sizes> = {
  full: {
    events: { meter_events: 20_000, meter_stream: 100_000, usage_records: 500 },
    // About 15 s of v1 at its rate: how long a fresh worker's and emulator's CPU per event took
    // to settle (V8's compilation and heap growth); a few seconds of the others.
    warmup: { meter_events: 15_000, meter_stream: 40_000, usage_records: 50 },
    customers: 200,
    baselineWindowS: 20,
    ingestBatches: 100,
    ingestDurationS: 20,
    backlogLarge: 1_000_000,
    backlogSmall: 10_000,
    backlogWindowS: 20,
    retentionEvents: 5_000_000,
    retentionPairs: 2,
    importLines: 1_000_000,
    outboxEvents: 100_000,
  },
  quick: {
    events: { meter_events: 4_000, meter_stream: 20_000, usage_records: 200 },
    warmup: { meter_events: 3_000, meter_stream: 10_000, usage_records: 20 },
    customers: 200,
    baselineWindowS: 6,
    ingestBatches: 20,
    ingestDurationS: 6,
    backlogLarge: 50_000,
    backlogSmall: 10_000,
    backlogWindowS: 8,
    retentionEvents: 200_000,
    retentionPairs: 1,
    importLines: 100_000,
    outboxEvents: 20_000,
  },
  // Every code path once, with sizes too small for any figure to mean a speed (test/bench).
  smoke: {
    events: { meter_events: 200, meter_stream: 1_000, usage_records: 40 },
    warmup: { meter_events: 50, meter_stream: 200, usage_records: 5 },
    customers: 20,
    baselineWindowS: 1,
    ingestBatches: 3,
    ingestDurationS: 1,
    backlogLarge: 2_000,
    backlogSmall: 1_000,
    backlogWindowS: 2,
    retentionEvents: 2_000,
    retentionPairs: 1,
    importLines: 2_000,
    outboxEvents: 2_000,
  },
};

const ev = (p: Preset) =>
  `${SIZES[p].events.meter_events} / ${SIZES[p].events.meter_stream} / ${SIZES[p].events.usage_records}`;
const warm = (p: Preset) =>
  `${SIZES[p].warmup.meter_events} / ${SIZES[p].warmup.meter_stream} / ${SIZES[p].warmup.usage_records}`;

/** The help text, with the defaults of a full run and of --quick. */
export const HELP = `Usage: npm run bench -- [options]

Prints benchmark tables to stdout (progress to stderr), or with --json one JSON document with
every figure (keys in the README, "Benchmarks"). Figures depend on the machine and on whatever
else runs on it: compare rows of one run, and read CPU-ms per event beside every wall-clock
figure — CPU per event is what stays stable on a shared machine.

Tables (all by default):
  e2e      accepted → reported events/s per delivery mode, on PGlite and Postgres: Meterline as
           it runs in production (\`meterline serve\` + \`meterline worker\` on Postgres,
           \`meterline start\` on PGlite; each its own process, spawned from bin/meterline.js)
           against the emulator (latency, live rate limits); the naive worker of the seed on
           the same load, per mode, and the ratio of the two
  ingest   POST /v1/events to a \`meterline serve\` process over real sockets: 1,000-event
           batches (closed loop) on PGlite and Postgres, and single events as an OPEN loop at
           --ingest-rate requests/s on Postgres (latency from each request's scheduled time,
           so queueing shows): p50/p95/p99
  backlog  peak RSS, events/s and CPU per event of a \`meterline worker\` process draining a
           1,000,000-event backlog versus a 10,000-event one (Postgres only)
  retention  the v1 e2e run on Postgres with 5,000,000 reported events older than the
           retention horizon (and a reconciliation covering them) in the table, retention off
           (METERLINE_RETENTION_DAYS=off) and on (the default), alternating: events/s and CPU
           per event of each, and how fast the worker's sweep removed the old events meanwhile
  import   \`meterline import\` of a 1,000,000-line NDJSON file into \`meterline serve\`, as a
           user runs it: events/s and CPU per event of the importer, the API and Postgres
           (Postgres only)
  outbox   the reporter's outbox statements alone (claim, mark-sent, settle), no Stripe and no
           HTTP, in the v2 stream's batch shape and in one-event requests': Postgres CPU per
           event by statement kind and WAL per event (Postgres only)

CPU: every table prints CPU-ms per event per process. Processes the bench spawns (meterline,
the emulator) and Postgres backends are read from /proc/<pid>/stat (utime + stime, every
thread: the same kernel accounting as process.cpuUsage); the bench process itself from
process.cpuUsage. Postgres CPU is the sum over the server's backend processes connected to the
bench's own database (pg_stat_activity → /proc), sampled every 250 ms so backends that come
and go are counted; each Meterline process connects with its own application_name, so the
API's and the worker's backends are told apart. Not pg_stat_statements: it records time spent
executing (wall time, waits included), not CPU, and needs a preloaded library. Not counted:
Postgres's shared background processes (WAL writer, checkpointer), which other users of the
server share. A server that is not on this machine prints "–" for Postgres CPU.

Every bench runs VACUUM ANALYZE on the tables it seeds before measuring (CI's Postgres runs
with autovacuum off).

Meterline runs from bin/meterline.js: build first if it runs compiled JavaScript (\`npm run
build\`); the machine line says which entry ran and whether src/ changed after the build.

Options (full default / --quick default):
  --quick                  small sizes for a smoke run of a few minutes
  --smoke                  the smallest sizes: every code path once, seconds per table; the
                           figures mean nothing (test/bench checks the JSON's shape with it)
  --json                   print one JSON document with every figure instead of the tables
  --only LIST              tables to run, comma-separated: ${TABLES.join(", ")}
  --engines LIST           pglite,postgres (default both; Postgres skipped if unreachable)
  --modes LIST             delivery modes for e2e (default ${MODES.join(",")})
  --database-url URL       Postgres admin URL (default $DATABASE_URL or
                           postgres://postgres@127.0.0.1:5432/postgres); databases are created
                           and dropped in it
  --events N               events per e2e run, every mode (by mode: ${ev("full")} / ${ev("quick")})
  --v1-events N            events of the meter_events runs (wins over --events)
  --stream-events N        events of the meter_stream runs (wins over --events)
  --usage-records-events N events of the usage_records runs (wins over --events)
  --warmup-events N        events sent through an e2e run's processes before its clock, every
                           mode; 0: none, the run is measured cold (by mode: ${warm("full")} /
                           ${warm("quick")})
  --latency MS             emulator latency per usage request (30)
  --jitter MS              ± jitter around it (10)
  --v1-limit N             emulator live limit, v1 meter events per second (1000); Meterline
                           runs with METERLINE_RATE_LIMIT set to it, as a live key gets
  --v2-limit N             emulator live limit, v2 stream requests per second (10000)
  --customers N            customers the events are spread over (200)
  --worker-batch N         reporter batch size, METERLINE_BATCH_SIZE (100, the product default)
  --worker-concurrency N   reporter requests in flight, METERLINE_CONCURRENCY (64, the default)
  --baseline-window S      seconds the naive worker is measured, per mode (${SIZES.full.baselineWindowS} / ${SIZES.quick.baselineWindowS})
  --baseline-tick S        the naive worker's cron period (10)
  --ingest-batches N       1,000-event requests per engine (${SIZES.full.ingestBatches} / ${SIZES.quick.ingestBatches})
  --ingest-concurrency N   1,000-event requests in flight (8)
  --ingest-rate N          single-event requests per second, open loop (500)
  --ingest-duration S      seconds of the open loop measured, after 2 s of warm-up (${SIZES.full.ingestDurationS} / ${SIZES.quick.ingestDurationS})
  --backlog N              large backlog (${SIZES.full.backlogLarge} / ${SIZES.quick.backlogLarge})
  --backlog-small N        small backlog (${SIZES.full.backlogSmall} / ${SIZES.quick.backlogSmall})
  --backlog-window S       seconds of draining measured at each backlog (${SIZES.full.backlogWindowS} / ${SIZES.quick.backlogWindowS})
  --retention-events N     old reported events seeded for the retention table (${SIZES.full.retentionEvents} / ${SIZES.quick.retentionEvents})
  --retention-pairs N      pairs of runs, retention off then on (${SIZES.full.retentionPairs} / ${SIZES.quick.retentionPairs})
  --import-lines N         lines of the NDJSON file \`meterline import\` loads (${SIZES.full.importLines} / ${SIZES.quick.importLines})
  --outbox-events N        pending events the outbox table works through per batch shape (${SIZES.full.outboxEvents} / ${SIZES.quick.outboxEvents})
  -h, --help               this text
`;

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

const INT_FLAGS = [
  "events",
  "v1-events",
  "stream-events",
  "usage-records-events",
  "warmup-events",
  "latency",
  "jitter",
  "v1-limit",
  "v2-limit",
  "customers",
  "worker-batch",
  "worker-concurrency",
  "baseline-window",
  "baseline-tick",
  "ingest-batches",
  "ingest-concurrency",
  "ingest-rate",
  "ingest-duration",
  "backlog",
  "backlog-small",
  "backlog-window",
  "retention-events",
  "retention-pairs",
  "import-lines",
  "outbox-events",
] as const;

/** Parses argv (without node and the script) and the environment into options. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Parsed {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean" },
        smoke: { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        only: { type: "string" },
        engines: { type: "string" },
        modes: { type: "string" },
        "database-url": { type: "string" },
        ...Object.fromEntries(INT_FLAGS.map((f) => [f, { type: "string" as const }])),
      },
    }).values;
  } catch (err) {
    return { kind: "error", message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help) return { kind: "help", text: HELP };
  const problems: string[] = [];
  if (values.quick === true && values.smoke === true) {
    problems.push("--quick and --smoke are two presets: pick one");
  }
  const preset: Preset = values.smoke === true ? "smoke" : values.quick === true ? "quick" : "full";
  const sizes = SIZES[preset];

  const int = (flag: (typeof INT_FLAGS)[number], fallback: number, min: number): number => {
    const raw = values[flag];
    if (typeof raw !== "string") return fallback;
    const n = Number(raw.replaceAll("_", ""));
    if (!Number.isInteger(n) || n < min) {
      problems.push(`--${flag} must be a whole number ≥ ${min}, got "${raw}"`);
      return fallback;
    }
    return n;
  };
  const list = <T extends string>(flag: string, allowed: readonly T[]): T[] => {
    const raw = values[flag];
    if (typeof raw !== "string") return [...allowed];
    const picked = raw.split(",").map((s) => s.trim());
    const bad = picked.filter((p) => !(allowed as readonly string[]).includes(p));
    if (bad.length > 0 || picked.length === 0) {
      problems.push(`--${flag} takes ${allowed.join(", ")}; got "${raw}"`);
      return [...allowed];
    }
    return allowed.filter((a) => picked.includes(a));
  };

  const dbUrl = values["database-url"];
  const all = typeof values.events === "string" ? int("events", 0, 1) : null;
  const allWarmup = typeof values["warmup-events"] === "string" ? int("warmup-events", 0, 0) : null;
  const options: BenchOptions = {
    preset,
    quick: preset !== "full",
    json: values.json === true,
    tables: list("only", TABLES),
    engines: list("engines", ENGINES),
    modes: list("modes", MODES),
    databaseUrl: typeof dbUrl === "string" ? dbUrl : env.DATABASE_URL || DEFAULT_DATABASE_URL,
    events: {
      meter_events: int("v1-events", all ?? sizes.events.meter_events, 1),
      meter_stream: int("stream-events", all ?? sizes.events.meter_stream, 1),
      usage_records: int("usage-records-events", all ?? sizes.events.usage_records, 1),
    },
    warmup: {
      meter_events: allWarmup ?? sizes.warmup.meter_events,
      meter_stream: allWarmup ?? sizes.warmup.meter_stream,
      usage_records: allWarmup ?? sizes.warmup.usage_records,
    },
    latencyMs: int("latency", 30, 0),
    jitterMs: int("jitter", 10, 0),
    v1Limit: int("v1-limit", 1_000, 1),
    v2Limit: int("v2-limit", 10_000, 1),
    customers: int("customers", sizes.customers, 1),
    workerBatch: int("worker-batch", 100, 1),
    workerConcurrency: int("worker-concurrency", 64, 1),
    baselineWindowS: int("baseline-window", sizes.baselineWindowS, 1),
    baselineTickS: int("baseline-tick", 10, 1),
    ingestBatches: int("ingest-batches", sizes.ingestBatches, 1),
    ingestConcurrency: int("ingest-concurrency", 8, 1),
    ingestRate: int("ingest-rate", 500, 1),
    ingestDurationS: int("ingest-duration", sizes.ingestDurationS, 1),
    backlogLarge: int("backlog", sizes.backlogLarge, 1),
    backlogSmall: int("backlog-small", sizes.backlogSmall, 1),
    backlogWindowS: int("backlog-window", sizes.backlogWindowS, 1),
    retentionEvents: int("retention-events", sizes.retentionEvents, 1),
    retentionPairs: int("retention-pairs", sizes.retentionPairs, 1),
    importLines: int("import-lines", sizes.importLines, 1),
    outboxEvents: int("outbox-events", sizes.outboxEvents, 1),
  };
  if (!/^postgres(ql)?:\/\//.test(options.databaseUrl)) {
    problems.push(`--database-url must be a postgres:// URL, got "${options.databaseUrl}"`);
  }
  if (problems.length > 0) return { kind: "error", message: problems.join("\n") };
  return { kind: "run", options };
}
