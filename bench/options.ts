/**
 * The benchmark's flags, parsed once into a plain object (like src/config.ts): every table reads
 * its sizes from here, and every table prints them, so a figure never travels without its
 * parameters. Pure: argv in, options or a usage error out.
 */
import { parseArgs } from "node:util";

/** The tables `--only` can pick. */
export const TABLES = ["e2e", "ingest", "backlog"] as const;
/** One table's name. */
export type TableName = (typeof TABLES)[number];

/** The delivery modes the end-to-end table tries, in order. */
export const MODES = ["meter_events", "meter_stream", "usage_records"] as const;
/** The database engines a table can run on. */
export const ENGINES = ["pglite", "postgres"] as const;
/** One database engine. */
export type Engine = (typeof ENGINES)[number];

/** Everything a run needs, after defaults and --quick. */
export interface BenchOptions {
  /** Small sizes for a smoke run. */
  quick: boolean;
  /** Which tables to run. */
  tables: TableName[];
  /** Which engines to run on (Postgres is skipped anyway when unreachable). */
  engines: Engine[];
  /** Which delivery modes the end-to-end table tries. */
  modes: Array<(typeof MODES)[number]>;
  /** Admin URL of a Postgres server; the bench creates and drops its own databases in it. */
  databaseUrl: string;
  /** Events per end-to-end run (per mode and engine). */
  events: number;
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
  /** How long the naive baseline worker is measured, seconds. */
  baselineWindowS: number;
  /** The naive worker's tick, seconds (it fetches up to 100 rows per tick). */
  baselineTickS: number;
  /** Single-event ingest requests per engine. */
  ingestSingles: number;
  /** 1,000-event ingest requests per engine. */
  ingestBatches: number;
  /** Requests in flight during the ingest table. */
  ingestConcurrency: number;
  /** The large backlog of the memory table. */
  backlogLarge: number;
  /** The small backlog it is compared with. */
  backlogSmall: number;
  /** Seconds of draining measured at each backlog. */
  backlogWindowS: number;
}

/** What parsing argv came to: options to run with, help to print, or a usage error. */
export type Parsed =
  | { kind: "run"; options: BenchOptions }
  | { kind: "help"; text: string }
  | { kind: "error"; message: string };

/** The help text, with the defaults of a full run and of --quick. */
export const HELP = `Usage: npm run bench -- [options]

Prints benchmark tables to stdout (progress to stderr). Figures depend on the machine and on
whatever else runs on it: read them as orders of magnitude, and compare rows of one run.

Tables (all by default):
  e2e      accepted → reported events/s per delivery mode, on PGlite and Postgres, against the
           emulator (latency, live rate limits), and the naive baseline worker; ratio of the two
  ingest   POST /v1/events over real sockets: single events and 1,000-event batches, latency
           percentiles and events/s, on PGlite and Postgres
  backlog  peak RSS and events/s of a \`meterline worker\` process draining a 1,000,000-event
           backlog versus a 10,000-event one (Postgres only)

Options (full default / --quick default):
  --quick                  small sizes for a smoke run
  --only LIST              tables to run, comma-separated: ${TABLES.join(", ")}
  --engines LIST           pglite,postgres (default both; Postgres skipped if unreachable)
  --modes LIST             delivery modes for e2e (default ${MODES.join(",")})
  --database-url URL       Postgres admin URL (default $DATABASE_URL or
                           postgres://postgres@127.0.0.1:5432/postgres); databases are created
                           and dropped in it
  --events N               events per e2e run (4000 / 2000; usage records at most 500 / 200)
  --latency MS             emulator latency per usage request (30)
  --jitter MS              ± jitter around it (10)
  --v1-limit N             emulator live limit, v1 meter events per second (1000)
  --v2-limit N             emulator live limit, v2 stream requests per second (10000)
  --customers N            customers the events are spread over (200)
  --worker-batch N         reporter batch size, METERLINE_BATCH_SIZE (100, the product default)
  --worker-concurrency N   reporter requests in flight, METERLINE_CONCURRENCY (32, the default)
  --baseline-window S      seconds the naive worker is measured (40 / 10)
  --baseline-tick S        the naive worker's period (10)
  --ingest-singles N       single-event requests per engine (2000 / 500)
  --ingest-batches N       1,000-event requests per engine (50 / 10)
  --ingest-concurrency N   requests in flight (16)
  --backlog N              large backlog (1000000 / 50000)
  --backlog-small N        small backlog (10000 / 10000)
  --backlog-window S       seconds of draining measured at each backlog (20 / 8)
  -h, --help               this text
`;

// Sized so that a full run takes about 10–15 minutes on a shared 2-core machine.
const FULL = {
  events: 4_000,
  baselineWindowS: 40,
  ingestSingles: 2_000,
  ingestBatches: 50,
  backlogLarge: 1_000_000,
  backlogSmall: 10_000,
  backlogWindowS: 20,
};
const QUICK: typeof FULL = {
  events: 2_000,
  baselineWindowS: 10,
  ingestSingles: 500,
  ingestBatches: 10,
  backlogLarge: 50_000,
  backlogSmall: 10_000,
  backlogWindowS: 8,
};

const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

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
        help: { type: "boolean", short: "h" },
        only: { type: "string" },
        engines: { type: "string" },
        modes: { type: "string" },
        "database-url": { type: "string" },
        events: { type: "string" },
        latency: { type: "string" },
        jitter: { type: "string" },
        "v1-limit": { type: "string" },
        "v2-limit": { type: "string" },
        customers: { type: "string" },
        "worker-batch": { type: "string" },
        "worker-concurrency": { type: "string" },
        "baseline-window": { type: "string" },
        "baseline-tick": { type: "string" },
        "ingest-singles": { type: "string" },
        "ingest-batches": { type: "string" },
        "ingest-concurrency": { type: "string" },
        backlog: { type: "string" },
        "backlog-small": { type: "string" },
        "backlog-window": { type: "string" },
      },
    }).values;
  } catch (err) {
    return { kind: "error", message: err instanceof Error ? err.message : String(err) };
  }
  if (values.help) return { kind: "help", text: HELP };
  const quick = values.quick === true;
  const sizes = quick ? QUICK : FULL;
  const problems: string[] = [];

  const int = (flag: string, fallback: number, min: number): number => {
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
  const options: BenchOptions = {
    quick,
    tables: list("only", TABLES),
    engines: list("engines", ENGINES),
    modes: list("modes", MODES),
    databaseUrl: typeof dbUrl === "string" ? dbUrl : env.DATABASE_URL || DEFAULT_DATABASE_URL,
    events: int("events", sizes.events, 1),
    latencyMs: int("latency", 30, 0),
    jitterMs: int("jitter", 10, 0),
    v1Limit: int("v1-limit", 1_000, 1),
    v2Limit: int("v2-limit", 10_000, 1),
    customers: int("customers", 200, 1),
    workerBatch: int("worker-batch", 100, 1),
    workerConcurrency: int("worker-concurrency", 32, 1),
    baselineWindowS: int("baseline-window", sizes.baselineWindowS, 1),
    baselineTickS: int("baseline-tick", 10, 1),
    ingestSingles: int("ingest-singles", sizes.ingestSingles, 1),
    ingestBatches: int("ingest-batches", sizes.ingestBatches, 1),
    ingestConcurrency: int("ingest-concurrency", 16, 1),
    backlogLarge: int("backlog", sizes.backlogLarge, 1),
    backlogSmall: int("backlog-small", sizes.backlogSmall, 1),
    backlogWindowS: int("backlog-window", sizes.backlogWindowS, 1),
  };
  if (!/^postgres(ql)?:\/\//.test(options.databaseUrl)) {
    problems.push(`--database-url must be a postgres:// URL, got "${options.databaseUrl}"`);
  }
  if (problems.length > 0) return { kind: "error", message: problems.join("\n") };
  return { kind: "run", options };
}
