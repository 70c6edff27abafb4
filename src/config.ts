import { hostname } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import { RECONCILE_HOURS, SETTLE_MINUTES } from "./reconcile/limits.ts";

/** Stripe refuses meter events older than 35 days, so pre-flight fails a replay of anything older. */
const RETENTION_MIN_DAYS = 35;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/** A port, or host:port (an IPv6 host in brackets): METERLINE_METRICS_LISTEN. */
const LISTEN = /^(?:(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/;

/** Every environment variable Meterline reads, with its rule and default. README mirrors this. */
const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  METERLINE_DATA_DIR: z.string().min(1).default(".meterline"),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  STRIPE_SECRET_KEY: z
    .string()
    .regex(
      /^(sk|rk)_(test|live)_\w+$/,
      "must look like sk_test_…, sk_live_…, rk_test_… or rk_live_…",
    )
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_\w+$/, "must look like whsec_…")
    .optional(),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  METERLINE_EMULATOR_PORT: int(0, 65535).default(12111),
  METERLINE_WORKER: bool.default(true),
  METERLINE_WORKER_ID: z.string().min(1).optional(),
  METERLINE_BATCH_SIZE: int(1, 1000).default(100),
  METERLINE_CONCURRENCY: int(1, 1000).default(64),
  METERLINE_POLL_MS: int(10).default(500),
  METERLINE_LEASE_MS: int(1000).default(15_000),
  METERLINE_MAX_ATTEMPTS: int(1, 1000).default(12),
  METERLINE_BACKOFF_BASE_MS: int(1).default(1_000),
  METERLINE_BACKOFF_MAX_MS: int(1).default(300_000),
  METERLINE_HALT_PROBE_MS: int(100).default(5_000),
  METERLINE_UNLINKED_HOLD_HOURS: int(0).default(24),
  METERLINE_TIMESTAMP_MARGIN_MINUTES: int(0, 24 * 60).default(60),
  METERLINE_DEDUP_WINDOW_HOURS: int(1, 24).default(23),
  METERLINE_REQUEST_TIMEOUT_MS: int(100).default(10_000),
  METERLINE_CRASH_LOOP_CLAIMS: int(2, 999).default(5),
  METERLINE_SHUTDOWN_BUDGET_MS: int(0).default(10_000),
  METERLINE_SYSTEMIC_CUSTOMERS: int(2, 10_000).default(5),
  METERLINE_SYSTEMIC_WINDOW_MS: int(1000).default(60_000),
  METERLINE_RATE_LIMIT: int(1, 100_000).optional(),
  // Each statement costs Postgres ~0.3–0.5 ms of CPU whatever it holds, so outcomes and first
  // sends wait to share one. A settle delays nothing but the outcome's writing: 100 ms gathers
  // ~100 of v1's ~1,000 outcomes/s per statement (v1 e2e, 20,000 events, Postgres, one 2-core
  // machine: Postgres 0.11 → 0.087 ms/event, worker 0.275 → 0.25, against 20 ms). A mark's wait
  // delays its request's departure, so that linger counts against the concurrency: at 30 ms,
  // 64 in flight no longer kept up with 1,000/s (947/s); at 20 ms a mark holds ~20 first sends.
  METERLINE_SETTLE_LINGER_MS: int(0, 1000).default(100),
  METERLINE_MARK_LINGER_MS: int(0, 1000).default(20),
  // 64: the stream's requests take ~100 ms from claim to answer under load (the mark's and the
  // settle's linger, the queue behind the claim), so what is held bounds the rate by Little's
  // law. v2 e2e, 100,000 events, Postgres, one 2-core machine: depth 16 → 14.8k events/s,
  // 32 → 23.3k, 64 → 24.5k, both cores then busy. 6,400 events held is a few MB.
  METERLINE_STREAM_DEPTH: int(1, 100).default(64),
  METERLINE_MAX_FUTURE_MINUTES: int(1, 7 * 24 * 60).default(60),
  METERLINE_RECONCILE_EVERY_MINUTES: int(0, 7 * 24 * 60).default(60),
  METERLINE_RECONCILE_HOURS: int(1, RECONCILE_HOURS.max).default(RECONCILE_HOURS.default),
  METERLINE_RECONCILE_SETTLE_MINUTES: int(0, SETTLE_MINUTES.max).default(SETTLE_MINUTES.default),
  // 0 or "off": keep every event. Otherwise at least Stripe's 35 days (outbox/retention.ts).
  METERLINE_RETENTION_DAYS: z
    .string()
    .regex(/^(off|\d{1,5})$/, 'must be a whole number of days, or "off"')
    .transform((v) => (v === "off" ? 0 : Number(v)))
    .refine((d) => d === 0 || d >= RETENTION_MIN_DAYS, {
      message: `must be 0 or "off" (keep everything), or at least ${RETENTION_MIN_DAYS} days: a producer's replay of a removed event would otherwise be billed again`,
    })
    .default(RETENTION_MIN_DAYS),
  METERLINE_METRICS_PUBLIC: bool.default(false),
  METERLINE_METRICS_LISTEN: z
    .string()
    .regex(LISTEN, "must be a port (9464) or host:port (0.0.0.0:9464, [::1]:9464)")
    .optional(),
});

/** METERLINE_METRICS_LISTEN as an address: a port alone listens on loopback. */
export function parseListen(value: string): { host: string; port: number } | null {
  const match = LISTEN.exec(value);
  if (!match) return null;
  const port = Number(match[2]);
  if (port > 65535) return null;
  return { host: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

/** Meterline's configuration, parsed once at the entry point and passed down as plain data. */
export interface Config {
  /** Postgres URL, or null to use embedded PGlite in `dataDir`. */
  databaseUrl: string | null;
  /** Folder for PGlite's files and the development key (git-ignored). */
  dataDir: string;
  host: string;
  port: number;
  logLevel: z.infer<typeof envSchema>["LOG_LEVEL"];
  ingest: {
    /** How far ahead of the server's clock an event's timestamp may be; further is refused. */
    maxFutureMinutes: number;
  };
  reconcile: {
    /** How often one worker of all reconciles; 0: never by itself (meterline reconcile still does). */
    everyMinutes: number;
    /** Hours of events each periodic run compares, and the settle margin it allows Stripe. */
    hours: number;
    settleMinutes: number;
  };
  /** Days after which reported and discarded events go (outbox/retention.ts); 0: never. */
  retentionDays: number;
  metrics: {
    /** GET /metrics on the API without a key (METERLINE_METRICS_PUBLIC). */
    public: boolean;
    /** A listener of its own for /metrics, without a key (METERLINE_METRICS_LISTEN); null: none. */
    listen: { host: string; port: number } | null;
  };
  stripe: {
    /** Secret key; null means: start the bundled emulator and use it. */
    secretKey: string | null;
    /** Where the SDK sends requests when not the real Stripe (e.g. a separately run emulator). */
    apiBase: string | null;
    /** Signing secret of the event destination that delivers thin events to /webhooks/stripe. */
    webhookSecret: string | null;
    emulatorPort: number;
    requestTimeoutMs: number;
  };
  worker: {
    enabled: boolean;
    id: string;
    batchSize: number;
    concurrency: number;
    pollMs: number;
    leaseMs: number;
    maxAttempts: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    haltProbeMs: number;
    unlinkedHoldMs: number;
    timestampMarginMs: number;
    dedupWindowMs: number;
    /** Claims in a row that end with the worker gone before an event is failed as crash_loop. */
    crashLoopClaims: number;
    /** On SIGTERM, how long in-flight sends may take before their events are abandoned. */
    shutdownBudgetMs: number;
    /** Distinct customers with the same rejection code, within the window, that mean "systemic". */
    systemicCustomers: number;
    systemicWindowMs: number;
    /** The account's Stripe requests per second, shared by the live workers; null: by the key's mode (reporter/limiter.ts). */
    rateLimit: number | null;
    /** How long a settle waits for others to share its statement (never over a tenth of the lease). */
    settleLingerMs: number;
    /** How long a first send's mark waits for others to share its statement (never over a tenth of the lease). */
    markLingerMs: number;
    /** v2 stream: how many full requests' worth of events (100 each) a worker holds, to keep that many in flight. */
    streamDepth: number;
  };
}

/** A configuration problem, naming the variable and the rule it broke. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}\nFix ${problems.length === 1 ? "this variable" : "these variables"} in the environment (the README's Configuration lists each, with its default) and run again.`,
    );
  }
}

/** Reads and validates the environment. Throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means unset: `FOO= meterline start` should not trip a URL check.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`));
  }
  const e = parsed.data;
  const listen = e.METERLINE_METRICS_LISTEN ? parseListen(e.METERLINE_METRICS_LISTEN) : null;
  if (e.METERLINE_METRICS_LISTEN && !listen) {
    throw new ConfigError(["METERLINE_METRICS_LISTEN: the port must be 0 to 65535"]);
  }
  if (e.STRIPE_API_BASE && !e.STRIPE_SECRET_KEY) {
    throw new ConfigError(["STRIPE_API_BASE: needs STRIPE_SECRET_KEY (the key for that API)"]);
  }
  return {
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: resolve(e.METERLINE_DATA_DIR),
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    ingest: { maxFutureMinutes: e.METERLINE_MAX_FUTURE_MINUTES },
    reconcile: {
      everyMinutes: e.METERLINE_RECONCILE_EVERY_MINUTES,
      hours: e.METERLINE_RECONCILE_HOURS,
      settleMinutes: e.METERLINE_RECONCILE_SETTLE_MINUTES,
    },
    retentionDays: e.METERLINE_RETENTION_DAYS,
    metrics: { public: e.METERLINE_METRICS_PUBLIC, listen },
    stripe: {
      secretKey: e.STRIPE_SECRET_KEY ?? null,
      apiBase: e.STRIPE_API_BASE ?? null,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET ?? null,
      emulatorPort: e.METERLINE_EMULATOR_PORT,
      requestTimeoutMs: e.METERLINE_REQUEST_TIMEOUT_MS,
    },
    worker: {
      enabled: e.METERLINE_WORKER,
      id: e.METERLINE_WORKER_ID ?? `${hostname()}-${process.pid}`,
      batchSize: e.METERLINE_BATCH_SIZE,
      concurrency: e.METERLINE_CONCURRENCY,
      pollMs: e.METERLINE_POLL_MS,
      leaseMs: e.METERLINE_LEASE_MS,
      maxAttempts: e.METERLINE_MAX_ATTEMPTS,
      backoffBaseMs: e.METERLINE_BACKOFF_BASE_MS,
      backoffMaxMs: e.METERLINE_BACKOFF_MAX_MS,
      haltProbeMs: e.METERLINE_HALT_PROBE_MS,
      unlinkedHoldMs: e.METERLINE_UNLINKED_HOLD_HOURS * 3_600_000,
      timestampMarginMs: e.METERLINE_TIMESTAMP_MARGIN_MINUTES * 60_000,
      dedupWindowMs: e.METERLINE_DEDUP_WINDOW_HOURS * 3_600_000,
      crashLoopClaims: e.METERLINE_CRASH_LOOP_CLAIMS,
      shutdownBudgetMs: e.METERLINE_SHUTDOWN_BUDGET_MS,
      systemicCustomers: e.METERLINE_SYSTEMIC_CUSTOMERS,
      systemicWindowMs: e.METERLINE_SYSTEMIC_WINDOW_MS,
      rateLimit: e.METERLINE_RATE_LIMIT ?? null,
      settleLingerMs: e.METERLINE_SETTLE_LINGER_MS,
      markLingerMs: e.METERLINE_MARK_LINGER_MS,
      streamDepth: e.METERLINE_STREAM_DEPTH,
    },
  };
}

/** The configuration tests and embedded callers start from: defaults, no environment. */
export function defaultConfig(overrides: NodeJS.ProcessEnv = {}): Config {
  return loadConfig(overrides);
}
