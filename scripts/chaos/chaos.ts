import { STRIPE_EVENTS_PATH } from "../../src/billing/stripe-events-route.ts";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { EMULATOR_KEY } from "../../src/system.ts";
import { type ApiProcess, startApi } from "./api-process.ts";
import { assembleReport, type ChaosReport } from "./assemble.ts";
import { AsyncFlusher } from "./async-flusher.ts";
import { CircuitWatch } from "./circuits.ts";
import { readRows } from "./collect.ts";
import { StripeCounts } from "./cross-checks.ts";
import { createChaosDatabase } from "./database.ts";
import { type Repeating, startFreezer, startKiller } from "./disruptions.ts";
import type { StatusCounts } from "./drain.ts";
import { LogSink } from "./log-sink.ts";
import { productReconcile, reconcile } from "./operator.ts";
import type { ChaosOptions } from "./options.ts";
import {
  type MainPhase,
  type PhaseContext,
  type RanPhase,
  runCleanPhase,
  runMainPhase,
  runStormPhase,
  runWrongAccountPhase,
} from "./phases.ts";
import { modeOf, type PhaseName } from "./plan.ts";
import { RequestLog } from "./request-log.ts";
import { seedWorld } from "./seed.ts";
import { WorkerPool, workerEnvironment } from "./workers.ts";

export type { ChaosReport } from "./assemble.ts";

/**
 * How far back Stripe's clock starts while seeding: subscription periods (a month) begin before
 * any event, also before one the clock jump aged by a day.
 */
const SEED_HEAD_START_S = 3 * 86_400;

/** The live state the progress display shows. */
export interface ProgressSnapshot {
  /** The phase running. */
  phase: PhaseName;
  /** Events by status now. */
  counts: StatusCounts;
  /** Events of every phase. */
  total: number;
  /** Kills so far. */
  kills: number;
  /** Freezes so far. */
  freezes: number;
  /** Since the run began. */
  elapsedMs: number;
}

/** Optional callbacks and an abort signal (Ctrl-C) for a run. */
export interface ChaosHooks {
  /** Set-up messages, one line each. */
  log?: (line: string) => void;
  /** Called with every look at the queue (twice a second). */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  /** Aborting stops waiting for the drain; the run still cleans up and reports. */
  signal?: AbortSignal;
}

/** What is running, so that the finally block stops exactly what was started. */
interface Running {
  emulator: RunningEmulator | null;
  api: ApiProcess | null;
  pool: WorkerPool | null;
  killer: Repeating | null;
  freezer: Repeating | null;
  flusher: AsyncFlusher | null;
  circuits: CircuitWatch | null;
  cleanups: Array<() => Promise<void>>;
}

/** Runs the chaos scenario of `options` and returns its report; cleans up whatever happens. */
export async function runChaos(
  options: ChaosOptions,
  hooks: ChaosHooks = {},
): Promise<ChaosReport> {
  const say = hooks.log ?? (() => {});
  const t0 = Date.now();
  const log = new LogSink(options.logFile);
  const target = await createChaosDatabase(options.adminUrl);
  const { db } = target.database;
  const requests = new RequestLog();
  const running: Running = {
    emulator: null,
    api: null,
    pool: null,
    killer: null,
    freezer: null,
    flusher: null,
    circuits: null,
    cleanups: [],
  };
  try {
    const emulator = await startEmulator(
      {
        port: 0,
        apiKeys: [EMULATOR_KEY],
        // Error reports go out when the run says (async-flusher.ts), not on a timer.
        errorReportIntervalMs: 0,
        startTime: Math.floor(Date.now() / 1000) - SEED_HEAD_START_S,
      },
      { onUsageRequest: requests.observer("main") },
    );
    running.emulator = emulator;
    const stripe = createStripeClient({
      secretKey: EMULATOR_KEY,
      apiBase: emulator.url,
      timeoutMs: 10_000,
    });
    say(`database ${target.name} created; Stripe emulator on ${emulator.url}`);
    const world = await seedWorld(db, stripe, options.customers);
    // Subscriptions began days ago by Stripe's clock: every event's time fits their period.
    emulator.setClock(Math.floor(Date.now() / 1000));
    const { faults: f } = options;
    // Faults only after seeding; they hit the usage endpoints, never customer or meter set-up.
    emulator.setFaults({
      p500: f.p500,
      pAmbiguous: f.pAmbiguous,
      p429: f.p429,
      pTimeout: f.pTimeout,
      latencyMs: f.latencyMs,
      latencyJitterMs: f.jitterMs,
    });
    emulator.setEndpointFaults("usage_records", { p500: f.urP500, pAmbiguous: f.urAmbiguous });

    const env = workerEnvironment(options, target.url, emulator.url, EMULATOR_KEY);
    const api = await startApi(db, { ...env, LOG_LEVEL: "warn" }, log);
    running.api = api;
    // As `start` registers its bundled emulator's destination (src/system.ts).
    emulator.addEventDestination({
      url: `${api.url}${STRIPE_EVENTS_PATH}`,
      secret: api.webhookSecret,
    });
    say(`API (meterline serve) on ${api.url}, billing sync registered as the event destination`);

    const gone = new Set(world.deletedInStripe.map((k) => world.stripeIds.get(k) ?? ""));
    const flusher = new AsyncFlusher(
      emulator,
      db,
      { url: `${api.url}${STRIPE_EVENTS_PATH}`, secret: api.webhookSecret },
      gone,
    );
    running.flusher = flusher;
    requests.onEntry((entry) => flusher.note(entry));
    flusher.start();
    const circuits = new CircuitWatch(db);
    running.circuits = circuits;

    const pool = new WorkerPool(options.workers, env, log);
    running.pool = pool;
    say(
      `starting ${options.workers} workers${options.logFile ? ` (output: ${options.logFile})` : ""}`,
    );
    await pool.start();
    const killer = startKiller(pool, db, { everyMs: options.killEveryMs, max: options.maxKills });
    running.killer = killer;
    const freezer = startFreezer(
      pool,
      db,
      { everyMs: options.freezeEveryMs, max: options.maxFreezes },
      options.freezeForMs,
    );
    running.freezer = freezer;

    const total =
      options.events +
      options.httpEvents +
      options.stormEvents +
      options.wrongAccountEvents +
      options.cleanEvents;
    const ctx: PhaseContext = {
      options,
      db,
      databaseUrl: target.url,
      emulator,
      pool,
      freezer,
      world,
      circuits,
      requests,
      api,
      signal: hooks.signal,
      cleanups: running.cleanups,
      stops: [],
      onTick: (phase, counts) =>
        hooks.onProgress?.({
          phase,
          counts,
          total,
          kills: killer.records.length,
          freezes: freezer.records.length,
          elapsedMs: Date.now() - t0,
        }),
    };
    const aborted = () => hooks.signal?.aborted ?? false;
    say("main phase: all three delivery modes, poison, ingest, revocation, clock jump");
    const main: MainPhase = await runMainPhase(ctx);
    const phases: RanPhase[] = [main];
    let otherLedger = null;
    // The wrong key before the storm: the storm moves Stripe's clock 40 days and back, which
    // prunes every idempotency key, so no event sent before it may be sent again after it.
    if (main.drained && options.wrongAccountEvents > 0 && !aborted()) {
      say("wrong-account phase: workers deployed with another account's key");
      const wrong = await runWrongAccountPhase(ctx);
      otherLedger = wrong.otherLedger;
      phases.push(wrong);
    }
    if (phases.every((p) => p.drained) && options.stormEvents > 0 && !aborted()) {
      say("storm phase: Stripe's clock 40 days ahead");
      phases.push(await runStormPhase(ctx));
    }
    if (phases.every((p) => p.drained) && options.cleanEvents > 0 && !aborted()) {
      say("clean phase: the throughput baseline");
      phases.push(await runCleanPhase(ctx));
    }

    // Every rejection Stripe still holds goes out; then the chaos stops (a frozen worker
    // resumes), then the workers, and only then are Stripe and the outbox read.
    await flusher.flushAll();
    await flusher.stop();
    await freezer.stop();
    await killer.stop();
    await pool.stop();
    const final = await readRows(db);
    const ledgerBefore = emulator.ledger();
    const counts = new StripeCounts(ledgerBefore, requests.entries);
    const eventNames = new Map(final.map((r) => [r.id, r.eventName]));
    const reconciliation = await reconcile(db, api.url, api.adminKey, (id) => {
      const name = eventNames.get(id);
      return name !== undefined && counts.count(id, modeOf(name)) > 0;
    });
    const reconciled = await readRows(db);
    const productReconciliation = await productReconcile(api.url, api.adminKey);
    await circuits.stop();
    return await assembleReport({
      options,
      database: { name: target.name, url: target.url, kept: options.keepDb },
      db,
      ledger: emulator.ledger(),
      otherLedger,
      requests: requests.entries,
      phases,
      main,
      final,
      reconciled,
      reconciliation,
      productReconciliation,
      flusher: flusher.figures(),
      circuits: circuits.history(),
      kills: killer.records,
      freezes: freezer.records,
      stops: ctx.stops,
      unexpectedExits: [...pool.unexpectedExits],
      startedMs: t0,
      aborted: aborted(),
    });
  } finally {
    await running.flusher?.stop();
    await running.freezer?.stop();
    await running.killer?.stop();
    await running.pool?.stop();
    await running.circuits?.stop();
    for (const cleanup of running.cleanups) await cleanup().catch(() => {});
    await running.api?.stop();
    await running.emulator?.close();
    await log.close();
    await target.close(options.keepDb);
  }
}
