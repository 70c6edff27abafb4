/**
 * A model-based property test (fast-check commands) of the reporter against the bundled Stripe
 * emulator: random ingests (poison included), worker starts and kills, faults, clock jumps, key
 * revocations, operator retries and webhook deliveries; then a drain with faults off and the
 * invariants of design.md §5 checked from the emulator's ledger and request log
 * (invariants.ts). Small enough for CI: METERLINE_MODEL_RUNS runs (default 25) of at most 12
 * commands, about 1.5 s each, per database backend.
 *
 * Reproduce a failure with the three values fast-check prints — seed and path, and the
 * commands' replayPath (in the counterexample's comment; commands shrink by what ran, so the path
 * alone does not replay):
 *   METERLINE_MODEL_SEED=<seed> METERLINE_MODEL_PATH=<path> METERLINE_MODEL_REPLAY=<replayPath> \
 *     npx vitest run test/model/reporter-model.test.ts
 * The system is concurrent: a replay runs the same commands with the same fault draws, in an
 * order the scheduler may vary.
 *
 * Other switches:
 * - METERLINE_MODEL_MAX_SHRINKS (default 60): shrinks tried after a failure, each a whole run.
 * - METERLINE_MODEL_VERBOSE=1: each run's commands and time, and what the runs covered.
 * - METERLINE_MODEL_SABOTAGE=double-count: pretend Stripe counted one event twice, to see the
 *   test fail and shrink.
 *
 * Two defects it found are fixed and held by it: a misfiled customer's usage record retried
 * after its item was set right (Stripe stored the 404 under the old Idempotency-Key; the retry
 * now goes under a new one), and a usage record retried confirming Stripe does not hold it (the
 * same: a new key, so Stripe does not replay its stored 500).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { commandArbitraries, initialFaults } from "./commands.ts";
import { byEventOf, checkRun, GAVE_UP, type RunFacts, viewOf } from "./invariants.ts";
import { behavesHealthy, initialModel, type Model } from "./model.ts";
import { modelSettings, type Snapshot, World } from "./world.ts";

const env = process.env;
const RUNS = Number(env.METERLINE_MODEL_RUNS ?? 25);
const SEED = env.METERLINE_MODEL_SEED ? Number(env.METERLINE_MODEL_SEED) : undefined;
const PATH = env.METERLINE_MODEL_PATH || undefined;
const REPLAY = env.METERLINE_MODEL_REPLAY || undefined;
/**
 * Shrinks tried after a failure (each is a whole run of a few seconds). A replay (a path given)
 * lifts the limit, so that the path walks the same shrinks whatever this was when it was printed.
 */
const MAX_SHRINKS = Number(env.METERLINE_MODEL_MAX_SHRINKS ?? 60);
const MAX_COMMANDS = 12;
/** How long the final drains may take with faults off before the run fails as stuck. */
const DRAIN_MS = 20_000;
/**
 * For demonstrating that the test can fail: "double-count" pretends Stripe counted an event of
 * a meter_events meter twice (a copy of its ledger entry) in the checked snapshot.
 */
const SABOTAGE = env.METERLINE_MODEL_SABOTAGE;

const VERBOSE = env.METERLINE_MODEL_VERBOSE === "1";
const MAX_ATTEMPTS = modelSettings("any").maxAttempts;
let runNo = 0;

/** What the runs covered, printed with METERLINE_MODEL_VERBOSE=1. */
function emptyCoverage() {
  return {
    runs: 0,
    commands: new Map<string, number>(),
    outcomes: new Map<string, number>(),
    requests: 0,
    faulted: 0,
    reconciled: { resolved: 0, retried: 0 },
    ms: 0,
  };
}
let coverage = emptyCoverage();
const bump = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

function facts(w: World, m: Model, phase: RunFacts["phase"]): RunFacts {
  return {
    model: m,
    stripeIdOf: w.stripeIdOf,
    maxAttempts: MAX_ATTEMPTS,
    phase,
    unnamedRejections: w.webhooks.unnamed,
    undeliveredWebhooks: w.undeliveredWebhooks(),
  };
}

function sabotaged(s: Snapshot, w: World): Snapshot {
  if (SABOTAGE !== "double-count") return s;
  const victim = s.ledger.events.find(
    (e) => e.counted && e.event_name === w.meterName.meter_events,
  );
  return victim ? { ...s, ledger: { ...s.ledger, events: [...s.ledger.events, victim] } } : s;
}

/** Drains with faults off, delivers Stripe's error reports, stops: the sources are then final. */
async function settleEverything(w: World, m: Model): Promise<string[]> {
  const problems: string[] = [];
  if (!(await w.stopAll())) problems.push("sends still in flight 10 s after every worker stopped");
  w.clearFaults();
  m.faults.clear();
  if (m.keyRevoked) {
    w.emu.restoreKey(w.stripeKey);
    m.keyRevoked = false;
  }
  w.startWorker();
  m.workers = 1;
  if (!(await w.drain(DRAIN_MS))) {
    const left = await w.unsettled();
    const circuits = await w.openCircuits();
    problems.push(
      `did not drain within ${DRAIN_MS} ms with faults off: ${left.length} unsettled ` +
        `(${left
          .slice(0, 5)
          .map((e) => `${e.id} ${e.reason}`)
          .join(", ")}), circuits open: [${circuits.join(", ")}]`,
    );
  }
  // Stripe's error reports; billing sync's answers are redelivered until taken.
  await w.deliverWebhooks();
  await w.deliverWebhooks();
  if (!(await w.stopAll())) problems.push("sends still in flight 10 s after every worker stopped");
  m.workers = 0;
  return problems;
}

/**
 * A person reconciles what Meterline gave up on safely, against Stripe: resolves as delivered
 * what Stripe counted, retries (confirming Stripe does not hold it) what it did not; and follows
 * the advice of a wrong subscription item's dead letters: set the right item, retry the event.
 */
async function reconcile(w: World, m: Model, s: Snapshot): Promise<void> {
  const byEvent = byEventOf(s.requests);
  const rowOf = new Map(s.rows.map((r) => [r.id, r]));
  const resolve: string[] = [];
  const retry: string[] = [];
  const refile: string[] = [];
  let misfiled = false;
  for (const e of m.events) {
    const row = rowOf.get(e.id);
    if (row?.status !== "failed" || !(behavesHealthy(e) || e.kind === "misfiled")) continue;
    if (e.kind === "misfiled" && e.mode === "usage_records") misfiled = true;
    if (e.kind === "misfiled" && row.code === "resource_missing") refile.push(e.id);
    if (!GAVE_UP.has(row.code ?? "")) continue;
    if (viewOf(e, s.ledger, byEvent).held) resolve.push(e.id);
    else retry.push(e.id);
  }
  // A wrong subscription item is set right first: every retry below then goes to the right one.
  if (misfiled && !m.itemFixed) {
    await w.fixItem();
    m.itemFixed = true;
  }
  for (const id of await w.operatorResolve(resolve)) m.resolved.add(id);
  const retried = [
    ...(await w.operatorRetry(retry, true)),
    // The advice of a wrong item's dead letters: set the right item, then retry the event (a
    // 404 applied nothing: past the dedup window, the person confirms Stripe does not hold it).
    ...(await w.operatorRetry(refile, true)),
  ];
  if (m.itemFixed) for (const id of retried) m.retriedAfterFix.add(id);
  coverage.reconciled.resolved += resolve.length;
  coverage.reconciled.retried += retry.length + refile.length;
}

async function finish(w: World, m: Model): Promise<void> {
  const fail = async (problems: string[]): Promise<never> => {
    const errors = w.errorLines();
    const logged = errors.length > 0 ? `\nworker errors:\n  ${errors.join("\n  ")}` : "";
    // The first few events named, as the workers recorded them and as Stripe saw them.
    const named = [
      ...new Set(problems.map((p) => /^(?:after reconcile: )?(\S+?):/.exec(p)?.[1] ?? "")),
    ]
      .filter((id) => id.startsWith(`${w.prefix}-e`))
      .slice(0, 3);
    const trace = [...(await w.trace(named)), ...w.requestsOf(named)];
    const traced = trace.length > 0 ? `\ntrace:\n  ${trace.join("\n  ")}` : "";
    throw new Error(
      `${w.prefix}: ${problems.length} violation(s):\n  ${problems.join("\n  ")}${logged}${traced}`,
    );
  };
  let problems = await settleEverything(w, m);
  const system = sabotaged(await w.snapshot(), w);
  problems.push(...checkRun(system, facts(w, m, "system")));
  if (problems.length > 0) await fail(problems);

  if (VERBOSE) {
    for (const r of system.rows) {
      bump(coverage.outcomes, r.status === "failed" ? `failed ${r.code}` : r.status);
    }
    coverage.requests += system.requests.length;
    coverage.faulted += system.requests.filter((r) => r.fault !== "none").length;
  }
  await reconcile(w, m, system);
  problems = await settleEverything(w, m);
  problems.push(
    ...checkRun(await w.snapshot(), facts(w, m, "reconciled")).map((p) => `after reconcile: ${p}`),
  );
  if (problems.length > 0) await fail(problems);
}

describe.each(backends)("the reporter against the emulator, model-based, on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    coverage = emptyCoverage();
  });
  afterAll(async () => {
    await database?.close();
    if (VERBOSE) {
      console.log(
        JSON.stringify(
          {
            ...coverage,
            commands: Object.fromEntries(coverage.commands),
            outcomes: Object.fromEntries(coverage.outcomes),
          },
          null,
          1,
        ),
      );
    }
  });

  it(`${RUNS} runs of up to ${MAX_COMMANDS} commands (ingest with poison, start and kill workers, faults, clock jumps, key revocations, operator retries, webhooks): every invariant of §5 holds`, async () => {
    const run = fc.tuple(
      fc.commands(commandArbitraries, {
        maxCommands: MAX_COMMANDS,
        size: "max",
        ...(REPLAY ? { replayPath: REPLAY } : {}),
      }),
      initialFaults,
      // The emulator's and the workers' random source: drawn, never shrunk.
      fc.noShrink(fc.integer({ min: 1, max: 0x7fffffff })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.limitShrink(run, PATH ? 1e9 : MAX_SHRINKS),
        async ([commands, faults, seed]) => {
          const started = Date.now();
          const world = await World.open(database.db, `m${++runNo}`, seed);
          try {
            const model = initialModel();
            await faults?.run(model, world);
            await fc.asyncModelRun(() => ({ model, real: world }), commands);
            await finish(world, model);
          } finally {
            await world.close();
            if (VERBOSE) {
              coverage.runs++;
              coverage.ms += Date.now() - started;
              const ran = String(commands).replace(/ \/\*.*$/, "");
              for (const c of ran.split(/,(?![^(]*\))/))
                bump(coverage.commands, c.replace(/\(.*$/, ""));
              console.log(`${world.prefix} ${Date.now() - started} ms: ${faults ?? ""} ${ran}`);
            }
          }
        },
      ),
      {
        numRuns: RUNS,
        ...(SEED !== undefined ? { seed: SEED } : {}),
        // A replay runs the counterexample the path names, and stops there.
        ...(PATH ? { path: PATH, endOnFailure: true } : {}),
      },
    );
  }, 1_800_000);
});
