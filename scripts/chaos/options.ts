import { z } from "zod";
import { parseFlags } from "../../src/cli/usage-error.ts";

/** The admin URL the chaos run creates its own database in when DATABASE_URL is not set. */
export const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** The emulator's fault mix for the usage endpoints. */
export interface ChaosFaults {
  /** Probability of a 500 with nothing applied. */
  p500: number;
  /** Probability of applying the event, then answering 500 or dropping the connection. */
  pAmbiguous: number;
  /** Probability of a 429. */
  p429: number;
  /** Probability of applying the event, then never answering (the worker's timeout resolves it). */
  pTimeout: number;
  /** Added latency per usage request, ms. */
  latencyMs: number;
  /** ± jitter around the latency, ms. */
  jitterMs: number;
}

/** The worker settings the chaos run passes to every `meterline worker` child, short so it drains in minutes. */
export interface ChaosWorkerTimings {
  /** METERLINE_LEASE_MS. */
  leaseMs: number;
  /** METERLINE_POLL_MS. */
  pollMs: number;
  /** METERLINE_BACKOFF_BASE_MS. */
  backoffBaseMs: number;
  /** METERLINE_BACKOFF_MAX_MS. */
  backoffMaxMs: number;
  /** METERLINE_HALT_PROBE_MS. */
  haltProbeMs: number;
  /** METERLINE_REQUEST_TIMEOUT_MS: short, so the emulator's timeouts resolve quickly. */
  requestTimeoutMs: number;
}

/** Everything one chaos run does; `runChaos` takes it, the flags of `npm run chaos` fill it. */
export interface ChaosOptions {
  /** Admin URL of a Postgres server: the run creates (and drops) its own database there. */
  adminUrl: string;
  /** Events of the main phase (poison included). */
  events: number;
  /** Events of the second phase (no poison, no revoke): the throughput baseline; 0 skips it. */
  cleanEvents: number;
  /** Worker processes running at any time. */
  workers: number;
  /** Healthy customers (each one Stripe customer, linked). */
  customers: number;
  /** A random worker is SIGKILLed and restarted this often; 0 never. */
  killEveryMs: number;
  /** Kills at most this many times in the whole run (null: no limit). */
  maxKills: number | null;
  /** Pause between freezes (a random worker SIGSTOPped, then SIGCONTed); 0 never. */
  freezeEveryMs: number;
  /** How long a freeze lasts: longer than a lease, so other workers take the frozen one's events. */
  freezeForMs: number;
  /** Freezes at most this many times (null: no limit). */
  maxFreezes: number | null;
  /** The key is revoked this long after the main phase starts… */
  revokeAtMs: number;
  /** …for this long; 0 never revokes. */
  revokeForMs: number;
  /** Share of the main phase's events that are poison (0..1). */
  poisonRate: number;
  /** The emulator's fault mix. */
  faults: ChaosFaults;
  /** What every worker gets in its environment. */
  worker: ChaosWorkerTimings;
  /** A phase that has not drained after this long is cut short (its pending events count as lost). */
  deadlineMs: number;
  /** Keep the database after the run (its URL is printed) instead of dropping it. */
  keepDb: boolean;
  /** Where the workers' output goes (one file); null discards it. */
  logFile: string | null;
}

/** The defaults of `npm run chaos`. */
export const DEFAULT_OPTIONS: Omit<ChaosOptions, "adminUrl" | "logFile"> = {
  events: 100_000,
  cleanEvents: 10_000,
  workers: 4,
  customers: 200,
  killEveryMs: 5_000,
  maxKills: null,
  freezeEveryMs: 15_000,
  freezeForMs: 7_000,
  maxFreezes: null,
  revokeAtMs: 15_000,
  revokeForMs: 20_000,
  poisonRate: 0.01,
  faults: { p500: 0.05, pAmbiguous: 0.03, p429: 0.02, pTimeout: 0.01, latencyMs: 30, jitterMs: 10 },
  worker: {
    leaseMs: 5_000,
    pollMs: 100,
    backoffBaseMs: 200,
    backoffMaxMs: 5_000,
    haltProbeMs: 1_000,
    requestTimeoutMs: 2_000,
  },
  deadlineMs: 3_600_000,
  keepDb: false,
};

const d = DEFAULT_OPTIONS;

/** `npm run chaos -- --help`. */
export const HELP = `Usage: npm run chaos -- [options]

The chaos run: a report, not a test. It creates a fresh Postgres database, starts the Stripe
emulator (in this process) with a fault mix, runs ${d.workers} "meterline worker" processes against both,
writes ${d.events.toLocaleString("en")} usage events straight into usage_events (1 % poison of five kinds:
customer deleted in Meterline, timestamp 40 days old, identifier over 100 characters, customer
never linked to Stripe, customer unknown to Meterline), SIGKILLs a random worker every few
seconds and restarts it, now and then freezes one (SIGSTOP) for longer than its lease and then
resumes it, revokes the Stripe key once, and waits for the queue to drain. A second,
smaller phase without poison and without the revoke gives the throughput baseline. Then it
checks design.md §5 against the emulator's ledger and the database and prints a report.
Exit code 0 when every invariant holds, 1 when one breaks, 2 on a usage error.

Database: DATABASE_URL is an ADMIN URL (default ${DEFAULT_ADMIN_URL}).
The run creates its own database "meterline_chaos_<random>" there and drops it at the end
(unless --keep-db). Nothing else on that server is touched.

Options:
  --events N             events of the main phase (default ${d.events})
  --clean-events N       events of the poison-free baseline phase; 0 skips it (default ${d.cleanEvents})
  --workers N            worker processes (default ${d.workers})
  --customers N          healthy customers (default ${d.customers})
  --kill-every S         SIGKILL a random running worker every S seconds, restart it; 0 never (default ${d.killEveryMs / 1000})
  --max-kills N          stop killing after N kills (default: no limit)
  --freeze-every S       pause between freezes of a random worker (SIGSTOP … SIGCONT); 0 never (default ${d.freezeEveryMs / 1000})
  --freeze-for S         how long a freeze lasts; make it longer than the lease (default ${d.freezeForMs / 1000})
  --max-freezes N        stop freezing after N freezes (default: no limit)
  --revoke-at S          revoke the Stripe key S seconds into the main phase (default ${d.revokeAtMs / 1000})
  --revoke-for S         …for S seconds; 0 never (default ${d.revokeForMs / 1000})
  --poison-rate P        share of poison events, 0..1 (default ${d.poisonRate})
  --p500 P               emulator: 500, nothing applied (default ${d.faults.p500})
  --ambiguous P          emulator: applied, then 500 or dropped connection (default ${d.faults.pAmbiguous})
  --p429 P               emulator: 429 rate limit (default ${d.faults.p429})
  --ptimeout P           emulator: applied, never answered (default ${d.faults.pTimeout})
  --latency MS           emulator: latency per usage request (default ${d.faults.latencyMs})
  --jitter MS            emulator: ± latency jitter (default ${d.faults.jitterMs})
  --lease-ms MS          workers' METERLINE_LEASE_MS (default ${d.worker.leaseMs})
  --poll-ms MS           workers' METERLINE_POLL_MS (default ${d.worker.pollMs})
  --backoff-base-ms MS   workers' METERLINE_BACKOFF_BASE_MS (default ${d.worker.backoffBaseMs})
  --backoff-max-ms MS    workers' METERLINE_BACKOFF_MAX_MS (default ${d.worker.backoffMaxMs})
  --halt-probe-ms MS     workers' METERLINE_HALT_PROBE_MS (default ${d.worker.haltProbeMs})
  --request-timeout-ms MS  workers' METERLINE_REQUEST_TIMEOUT_MS (default ${d.worker.requestTimeoutMs})
  --deadline S           give up on a phase that has not drained after S seconds (default ${d.deadlineMs / 1000})
  --keep-db              keep the database (its URL is printed) instead of dropping it
  --log FILE             write the workers' output here (default: a file in the temp folder)

Workers also get METERLINE_UNLINKED_HOLD_HOURS=0 (unlinked customers fail at once),
STRIPE_SECRET_KEY=sk_test_emulator and STRIPE_API_BASE=<the emulator's URL>.`;

const count = (min: number) => z.coerce.number().int("must be a whole number").min(min);
const probability = z.coerce.number().min(0, "must be from 0 to 1").max(1, "must be from 0 to 1");
const seconds = z.coerce.number().min(0, "must be ≥ 0");
const ms = (min: number) => z.coerce.number().int("must be whole milliseconds").min(min);

const flagsSchema = z.object({
  events: count(1).default(d.events),
  "clean-events": count(0).default(d.cleanEvents),
  workers: count(1).max(32).default(d.workers),
  customers: count(1).max(10_000).default(d.customers),
  "kill-every": seconds.default(d.killEveryMs / 1000),
  "max-kills": count(0).optional(),
  "freeze-every": seconds.default(d.freezeEveryMs / 1000),
  "freeze-for": seconds.default(d.freezeForMs / 1000),
  "max-freezes": count(0).optional(),
  "revoke-at": seconds.default(d.revokeAtMs / 1000),
  "revoke-for": seconds.default(d.revokeForMs / 1000),
  "poison-rate": probability.default(d.poisonRate),
  p500: probability.default(d.faults.p500),
  ambiguous: probability.default(d.faults.pAmbiguous),
  p429: probability.default(d.faults.p429),
  ptimeout: probability.default(d.faults.pTimeout),
  latency: ms(0).default(d.faults.latencyMs),
  jitter: ms(0).default(d.faults.jitterMs),
  "lease-ms": ms(1_000).default(d.worker.leaseMs),
  "poll-ms": ms(10).default(d.worker.pollMs),
  "backoff-base-ms": ms(1).default(d.worker.backoffBaseMs),
  "backoff-max-ms": ms(1).default(d.worker.backoffMaxMs),
  "halt-probe-ms": ms(100).default(d.worker.haltProbeMs),
  "request-timeout-ms": ms(100).default(d.worker.requestTimeoutMs),
  deadline: seconds.min(1, "must be ≥ 1").default(d.deadlineMs / 1000),
  "keep-db": z.boolean().default(false),
  log: z.string().min(1).optional(),
});

/** The node:util option list: every flag takes a value except --keep-db. */
const flagOptions = Object.fromEntries(
  Object.keys(flagsSchema.shape).map((name) => [
    name,
    { type: name === "keep-db" ? ("boolean" as const) : ("string" as const) },
  ]),
);

/**
 * Parses the command line into options; null after printing --help. Throws UsageError (exit
 * code 2) naming the flag and the rule.
 */
export function parseChaosArgs(
  args: string[],
  env: NodeJS.ProcessEnv,
  defaultLogFile: string,
): ChaosOptions | null {
  const parsed = parseFlags(args, flagOptions, flagsSchema, HELP);
  if (!parsed) return null;
  const f = parsed.flags;
  return {
    adminUrl: env.DATABASE_URL || DEFAULT_ADMIN_URL,
    events: f.events,
    cleanEvents: f["clean-events"],
    workers: f.workers,
    customers: f.customers,
    killEveryMs: Math.round(f["kill-every"] * 1000),
    maxKills: f["max-kills"] ?? null,
    freezeEveryMs: Math.round(f["freeze-every"] * 1000),
    freezeForMs: Math.round(f["freeze-for"] * 1000),
    maxFreezes: f["max-freezes"] ?? null,
    revokeAtMs: Math.round(f["revoke-at"] * 1000),
    revokeForMs: Math.round(f["revoke-for"] * 1000),
    poisonRate: f["poison-rate"],
    faults: {
      p500: f.p500,
      pAmbiguous: f.ambiguous,
      p429: f.p429,
      pTimeout: f.ptimeout,
      latencyMs: f.latency,
      jitterMs: f.jitter,
    },
    worker: {
      leaseMs: f["lease-ms"],
      pollMs: f["poll-ms"],
      backoffBaseMs: f["backoff-base-ms"],
      backoffMaxMs: f["backoff-max-ms"],
      haltProbeMs: f["halt-probe-ms"],
      requestTimeoutMs: f["request-timeout-ms"],
    },
    deadlineMs: Math.round(f.deadline * 1000),
    keepDb: f["keep-db"],
    logFile: f.log ?? defaultLogFile,
  };
}
