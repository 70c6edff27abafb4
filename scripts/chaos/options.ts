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
  /** Usage records only (endpoint group usage_records): a 500 with nothing applied. */
  urP500: number;
  /** Usage records only: applied, then a 500 or a dropped connection. */
  urAmbiguous: number;
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
  /** Events of the main phase (poison included), written straight into the outbox. */
  events: number;
  /** Healthy events of the main phase sent through the API (POST /v1/events, batches of 1,000). */
  httpEvents: number;
  /** Events of the last phase (no poison, no revoke): the throughput baseline; 0 skips it. */
  cleanEvents: number;
  /** Worker processes running at any time. */
  workers: number;
  /** Healthy customers (each one Stripe customer with a subscription, linked). */
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
  /** The clock jump (every worker down, Stripe's clock moved on) this long into the main phase; 0 never. */
  jumpAtMs: number;
  /** How far the jump moves Stripe's clock (and the waiting events' stored times back), hours. */
  jumpHours: number;
  /** Share of the main phase's events that are poison of the five pre-flight kinds (0..1). */
  poisonRate: number;
  /** Share of events for customers deleted in Stripe only: rejected asynchronously (0..1). */
  asyncRate: number;
  /** Share of events for the six customers whose subscription items are gone (0..1). */
  itemGoneRate: number;
  /** Meter events v1 of the systemic storm phase (Stripe's clock 40 days ahead); 0 skips it. */
  stormEvents: number;
  /** Usage records of the wrong-account phase (workers deployed with another account's key); 0 skips it. */
  wrongAccountEvents: number;
  /** How long a storm or a wrong-account key stays once its circuit opened. */
  haltHoldMs: number;
  /** The emulator's fault mix. */
  faults: ChaosFaults;
  /** What every worker gets in its environment. */
  worker: ChaosWorkerTimings;
  /** A phase that has not drained after this long is cut short (its pending events count as lost). */
  deadlineMs: number;
  /** Keep the database after the run (its URL is printed) instead of dropping it. */
  keepDb: boolean;
  /** Where the workers' and the API's output goes (one file); null discards it. */
  logFile: string | null;
  /** Print one JSON document instead of the report (progress goes to stderr). */
  json: boolean;
}

/** The defaults of `npm run chaos`. */
export const DEFAULT_OPTIONS: Omit<ChaosOptions, "adminUrl" | "logFile"> = {
  events: 80_000,
  httpEvents: 2_000,
  cleanEvents: 8_000,
  workers: 4,
  customers: 200,
  killEveryMs: 5_000,
  maxKills: null,
  freezeEveryMs: 15_000,
  freezeForMs: 7_000,
  maxFreezes: null,
  revokeAtMs: 15_000,
  revokeForMs: 20_000,
  jumpAtMs: 60_000,
  jumpHours: 24.5,
  poisonRate: 0.01,
  asyncRate: 0.004,
  itemGoneRate: 0.003,
  stormEvents: 2_000,
  wrongAccountEvents: 1_500,
  haltHoldMs: 10_000,
  faults: {
    p500: 0.05,
    pAmbiguous: 0.03,
    p429: 0.02,
    pTimeout: 0.01,
    latencyMs: 30,
    jitterMs: 10,
    urP500: 0.06,
    urAmbiguous: 0.05,
  },
  worker: {
    leaseMs: 5_000,
    pollMs: 100,
    backoffBaseMs: 200,
    backoffMaxMs: 5_000,
    haltProbeMs: 1_000,
    requestTimeoutMs: 2_000,
  },
  deadlineMs: 1_800_000,
  keepDb: false,
  json: false,
};

const d = DEFAULT_OPTIONS;

/** `npm run chaos -- --help`. */
export const HELP = `Usage: npm run chaos -- [options]

The chaos run: a report, not a test. It creates a fresh Postgres database, starts the Stripe
emulator in this process (recording every usage request by its own clock), runs "meterline
serve" (the API and billing sync, with the emulator's event destination registered) and
${d.workers} "meterline worker" processes, and declares six meters: two per delivery mode (meter events
v1, the v2 meter event stream, legacy usage records). Then, in phases:

  main   ${d.events.toLocaleString("en")} events written straight into the outbox and ${d.httpEvents.toLocaleString("en")} sent through the API, with
         poison of every kind (pre-flight kinds; customers deleted in Stripe only, rejected
         asynchronously by signed thin events, some while their events are still pending;
         six customers whose subscription items are gone, among the healthy ones), bad
         batches posted to the API (each must be refused whole), SIGKILLs and freezes, usage
         record 500s (applied and not), the key revoked once, and a clock jump: every worker
         down, the events waiting after a send moved back by --jump-hours, Stripe's clock moved
         on by as much (its 24 h dedup forgets them), workers up again.
  storm  meter events while Stripe's clock is 40 days ahead: every customer rejected alike,
         nothing else succeeds; the systemic circuit must open and nothing be failed.
  wrong  usage records while the workers run with another Stripe account's key: every
         customer's item is missing; the circuit must open, nothing be failed.
  clean  no poison, no revocation: the throughput baseline.

At the end a person's reconciliation is played (dead letters Stripe holds are resolved as
delivered through the API), and the invariants of design.md §5 are checked against the
emulator's ledger and request log. Exit code 0 when every invariant holds and every scenario
happened at least once, 1 otherwise, 2 on a usage error.

Database: DATABASE_URL is an ADMIN URL (default ${DEFAULT_ADMIN_URL}).
The run creates its own database "meterline_chaos_<random>" there and drops it at the end
(unless --keep-db). Nothing else on that server is touched.

Options:
  --json                 print one JSON document (invariants, scenarios, figures); progress to stderr.
                         npm prints its own banner on stdout first: "npm run -s chaos -- --json" omits it
  --events N             events of the main phase written into the outbox (default ${d.events})
  --http-events N        healthy main-phase events sent through POST /v1/events (default ${d.httpEvents})
  --clean-events N       events of the baseline phase; 0 skips it (default ${d.cleanEvents})
  --workers N            worker processes (default ${d.workers})
  --customers N          healthy customers (default ${d.customers})
  --kill-every S         SIGKILL a random running worker every S seconds, restart it; 0 never (default ${d.killEveryMs / 1000})
  --max-kills N          stop killing after N kills (default: no limit)
  --freeze-every S       pause between freezes of a random worker (SIGSTOP … SIGCONT); 0 never (default ${d.freezeEveryMs / 1000})
  --freeze-for S         how long a freeze lasts; make it longer than the lease (default ${d.freezeForMs / 1000})
  --max-freezes N        stop freezing after N freezes (default: no limit)
  --revoke-at S          revoke the Stripe key S seconds into the main phase (default ${d.revokeAtMs / 1000})
  --revoke-for S         …for S seconds; 0 never (default ${d.revokeForMs / 1000})
  --jump-at S            the clock jump S seconds into the main phase; 0 never (default ${d.jumpAtMs / 1000})
  --jump-hours H         how far it moves Stripe's clock, more than 24 (default ${d.jumpHours})
  --poison-rate P        share of pre-flight poison events, 0..1 (default ${d.poisonRate})
  --async-rate P         share of events rejected asynchronously, 0..1 (default ${d.asyncRate})
  --item-gone-rate P     share of events whose subscription item is gone, 0..1 (default ${d.itemGoneRate})
  --storm-events N       events of the systemic storm phase; 0 skips it (default ${d.stormEvents})
  --wrong-account-events N  events of the wrong-account phase; 0 skips it (default ${d.wrongAccountEvents})
  --halt-hold S          how long the storm and the wrong key last once the circuit opened (default ${d.haltHoldMs / 1000})
  --p500 P               emulator: 500, nothing applied (default ${d.faults.p500})
  --ambiguous P          emulator: applied, then 500 or dropped connection (default ${d.faults.pAmbiguous})
  --p429 P               emulator: 429 rate limit (default ${d.faults.p429})
  --ptimeout P           emulator: applied, never answered (default ${d.faults.pTimeout})
  --ur-p500 P            usage records: 500, nothing applied (default ${d.faults.urP500})
  --ur-ambiguous P       usage records: applied, then 500 or dropped connection (default ${d.faults.urAmbiguous})
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
  --log FILE             write the workers' and the API's output here (default: a file in the temp folder)

Workers also get METERLINE_UNLINKED_HOLD_HOURS=0 (unlinked customers fail at once),
STRIPE_SECRET_KEY=sk_test_emulator and STRIPE_API_BASE=<the emulator's URL>. They log at
"warn"; CHAOS_WORKER_LOG_LEVEL=info adds each usage record verification and its figures.`;

const count = (min: number) => z.coerce.number().int("must be a whole number").min(min);
const probability = z.coerce.number().min(0, "must be from 0 to 1").max(1, "must be from 0 to 1");
const seconds = z.coerce.number().min(0, "must be ≥ 0");
const ms = (min: number) => z.coerce.number().int("must be whole milliseconds").min(min);

const flagsSchema = z.object({
  json: z.boolean().default(false),
  events: count(1).default(d.events),
  "http-events": count(0).default(d.httpEvents),
  "clean-events": count(0).default(d.cleanEvents),
  workers: count(1).max(32).default(d.workers),
  customers: count(10).max(10_000).default(d.customers),
  "kill-every": seconds.default(d.killEveryMs / 1000),
  "max-kills": count(0).optional(),
  "freeze-every": seconds.default(d.freezeEveryMs / 1000),
  "freeze-for": seconds.default(d.freezeForMs / 1000),
  "max-freezes": count(0).optional(),
  "revoke-at": seconds.default(d.revokeAtMs / 1000),
  "revoke-for": seconds.default(d.revokeForMs / 1000),
  "jump-at": seconds.default(d.jumpAtMs / 1000),
  "jump-hours": z.coerce
    .number()
    .gt(24, "must be more than 24: the jump must carry events past Stripe's dedup window")
    .max(24 * 30, "must be at most 720")
    .default(d.jumpHours),
  "poison-rate": probability.default(d.poisonRate),
  "async-rate": probability.default(d.asyncRate),
  "item-gone-rate": probability.default(d.itemGoneRate),
  "storm-events": count(0).default(d.stormEvents),
  "wrong-account-events": count(0).default(d.wrongAccountEvents),
  "halt-hold": seconds.default(d.haltHoldMs / 1000),
  p500: probability.default(d.faults.p500),
  ambiguous: probability.default(d.faults.pAmbiguous),
  p429: probability.default(d.faults.p429),
  ptimeout: probability.default(d.faults.pTimeout),
  "ur-p500": probability.default(d.faults.urP500),
  "ur-ambiguous": probability.default(d.faults.urAmbiguous),
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

const BOOLEAN_FLAGS = new Set(["keep-db", "json"]);

/** The node:util option list: every flag takes a value except the booleans. */
const flagOptions = Object.fromEntries(
  Object.keys(flagsSchema.shape).map((name) => [
    name,
    { type: BOOLEAN_FLAGS.has(name) ? ("boolean" as const) : ("string" as const) },
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
  const secs = (s: number) => Math.round(s * 1000);
  return {
    adminUrl: env.DATABASE_URL || DEFAULT_ADMIN_URL,
    events: f.events,
    httpEvents: f["http-events"],
    cleanEvents: f["clean-events"],
    workers: f.workers,
    customers: f.customers,
    killEveryMs: secs(f["kill-every"]),
    maxKills: f["max-kills"] ?? null,
    freezeEveryMs: secs(f["freeze-every"]),
    freezeForMs: secs(f["freeze-for"]),
    maxFreezes: f["max-freezes"] ?? null,
    revokeAtMs: secs(f["revoke-at"]),
    revokeForMs: secs(f["revoke-for"]),
    jumpAtMs: secs(f["jump-at"]),
    jumpHours: f["jump-hours"],
    poisonRate: f["poison-rate"],
    asyncRate: f["async-rate"],
    itemGoneRate: f["item-gone-rate"],
    stormEvents: f["storm-events"],
    wrongAccountEvents: f["wrong-account-events"],
    haltHoldMs: secs(f["halt-hold"]),
    faults: {
      p500: f.p500,
      pAmbiguous: f.ambiguous,
      p429: f.p429,
      pTimeout: f.ptimeout,
      latencyMs: f.latency,
      jitterMs: f.jitter,
      urP500: f["ur-p500"],
      urAmbiguous: f["ur-ambiguous"],
    },
    worker: {
      leaseMs: f["lease-ms"],
      pollMs: f["poll-ms"],
      backoffBaseMs: f["backoff-base-ms"],
      backoffMaxMs: f["backoff-max-ms"],
      haltProbeMs: f["halt-probe-ms"],
      requestTimeoutMs: f["request-timeout-ms"],
    },
    deadlineMs: secs(f.deadline),
    keepDb: f["keep-db"],
    logFile: f.log ?? defaultLogFile,
    json: f.json,
  };
}
