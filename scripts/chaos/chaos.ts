import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import { createStripeClient } from "../../src/reporter/stripe-client.ts";
import { EMULATOR_KEY } from "../../src/system.ts";
import { assembleReport, type RanPhase } from "./assemble.ts";
import { createChaosDatabase } from "./database.ts";
import {
  type Repeating,
  type Revocation,
  type RevokeWindow,
  scheduleRevoke,
  startFreezer,
  startKiller,
} from "./disruptions.ts";
import { type StatusCounts, waitForDrain } from "./drain.ts";
import type { InvariantReport } from "./invariants.ts";
import type { PhaseThroughput, RescueStats } from "./metrics.ts";
import type { ChaosOptions } from "./options.ts";
import { type PlannedEvent, planEvents, type World } from "./plan.ts";
import { insertEvents, seedWorld } from "./seed.ts";
import { type UnexpectedExit, WorkerPool, workerEnvironment } from "./workers.ts";

/** One phase of the run: what it wrote and how fast it drained. */
export interface PhaseResult {
  /** main: poison and the revocation; clean: neither (the throughput baseline). */
  name: "main" | "clean";
  /** Events the phase wrote. */
  events: number;
  /** Poison events among them. */
  poison: number;
  /** Whether every event reached a final state before the deadline. */
  drained: boolean;
  /** ms since epoch; the phase starts right before its first insert. */
  startMs: number;
  /** How long writing them took (workers were already sending meanwhile). */
  insertMs: number;
  /** Drain time and rates, from the events' final-state times. */
  throughput: PhaseThroughput;
}

/** Everything a chaos run found: the report prints it, the small chaos test asserts on it. */
export interface ChaosReport {
  /** What the run was asked to do. */
  options: ChaosOptions;
  /** The run's own database, and whether it was kept. */
  database: { name: string; url: string; kept: boolean };
  /** The main phase, then the clean one (when asked for and the main one drained). */
  phases: PhaseResult[];
  /** When the key was revoked and restored. */
  revoke: RevokeWindow | null;
  /** What became of the events the SIGKILLed workers held. */
  rescue: RescueStats;
  /** Freezes done, the live leases the frozen workers held, how many others took over meanwhile. */
  freezes: { count: number; held: number; takenOver: number };
  /** Workers that died without being killed (each was restarted). */
  unexpectedExits: UnexpectedExit[];
  /** Attempt rows by outcome. */
  attempts: Record<string, number>;
  /** The checker's figures and findings. */
  invariants: InvariantReport;
  /** Things worth a look that break no invariant (slow rescue, crashes, a revoke that never ran). */
  warnings: string[];
  /** Broken invariants, one line each: empty means the run passed. */
  violations: string[];
  /** Set-up, both phases and the checks. */
  totalMs: number;
}

/** The live state the progress display shows. */
export interface ProgressSnapshot {
  /** The phase running. */
  phase: string;
  /** Events by status now. */
  counts: StatusCounts;
  /** Events of both phases. */
  total: number;
  /** Kills so far. */
  kills: number;
  /** Freezes so far. */
  freezes: number;
  /** Whether the key is revoked right now. */
  revoked: boolean;
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
  pool: WorkerPool | null;
  killer: Repeating | null;
  freezer: Repeating | null;
  revocation: Revocation | null;
}

/** Runs the chaos scenario of `options` and returns its report; cleans up whatever happens. */
export async function runChaos(
  options: ChaosOptions,
  hooks: ChaosHooks = {},
): Promise<ChaosReport> {
  const log = hooks.log ?? (() => {});
  const t0 = Date.now();
  const target = await createChaosDatabase(options.adminUrl);
  const { db } = target.database;
  const running: Running = {
    emulator: null,
    pool: null,
    killer: null,
    freezer: null,
    revocation: null,
  };
  try {
    const emulator = await startEmulator({
      port: 0,
      apiKeys: [EMULATOR_KEY],
      errorReportIntervalMs: 0,
    });
    running.emulator = emulator;
    const stripe = createStripeClient({
      secretKey: EMULATOR_KEY,
      apiBase: emulator.url,
      timeoutMs: 10_000,
    });
    log(`database ${target.name} created; Stripe emulator on ${emulator.url}`);
    const world = await seedWorld(db, stripe, options.customers);
    const { faults } = options;
    // Faults only after seeding; they hit the usage endpoints, never customer or meter set-up.
    emulator.setFaults({
      p500: faults.p500,
      pAmbiguous: faults.pAmbiguous,
      p429: faults.p429,
      pTimeout: faults.pTimeout,
      latencyMs: faults.latencyMs,
      latencyJitterMs: faults.jitterMs,
    });
    const env = workerEnvironment(options, target.url, emulator.url, EMULATOR_KEY);
    const pool = new WorkerPool(options.workers, env, options.logFile);
    running.pool = pool;
    log(
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

    const runPhase = async (
      name: PhaseResult["name"],
      events: PlannedEvent[],
      revoke: boolean,
    ): Promise<RanPhase> => {
      const startMs = Date.now();
      const revocation = revoke
        ? scheduleRevoke(emulator, EMULATOR_KEY, {
            atMs: options.revokeAtMs,
            forMs: options.revokeForMs,
          })
        : null;
      if (revocation) running.revocation = revocation;
      const insertMs = await insertEvents(db, events);
      const drained = await waitForDrain(db, {
        deadlineMs: startMs + options.deadlineMs,
        // The revocation is part of the phase: it ends only once the key was restored.
        alsoDone: () => revocation?.finished() ?? true,
        onTick: (counts) =>
          hooks.onProgress?.({
            phase: name,
            counts,
            total: options.events + options.cleanEvents,
            kills: killer.records.length,
            freezes: freezer.records.length,
            revoked: revocation?.window()?.toMs === null,
            elapsedMs: Date.now() - t0,
          }),
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      });
      return { name, events, startMs, insertMs, drained };
    };

    const main = await runPhase(
      "main",
      plan(world, options.events, options.poisonRate, "main"),
      true,
    );
    const clean =
      main.drained && options.cleanEvents > 0 && !hooks.signal?.aborted
        ? await runPhase("clean", plan(world, options.cleanEvents, 0, "clean"), false)
        : null;

    // Everything is final: stop the chaos (a frozen worker resumes), then the workers, and only
    // then read what Stripe holds.
    await freezer.stop();
    await killer.stop();
    await pool.stop();
    return await assembleReport({
      options,
      database: { name: target.name, url: target.url, kept: options.keepDb },
      db,
      ledger: emulator.ledger(),
      phases: clean ? [main, clean] : [main],
      revoke: running.revocation?.window() ?? null,
      kills: killer.records,
      freezes: freezer.records,
      unexpectedExits: [...pool.unexpectedExits],
      startedMs: t0,
      aborted: hooks.signal?.aborted ?? false,
    });
  } finally {
    await running.freezer?.stop();
    await running.killer?.stop();
    await running.pool?.stop();
    running.revocation?.cancel();
    await running.emulator?.close();
    await target.close(options.keepDb);
  }
}

function plan(world: World, count: number, poisonRate: number, prefix: string): PlannedEvent[] {
  return planEvents(world, { count, poisonRate, prefix, now: new Date() });
}
