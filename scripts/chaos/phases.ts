import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index.ts";
import type { ApiProcess } from "./api-process.ts";
import type { CircuitWatch, SeenCircuit } from "./circuits.ts";
import { type ClockJump, jumpClock } from "./clock-jump.ts";
import {
  type DisruptionRecord,
  haltAll,
  type Repeating,
  type Revocation,
  type RevokeWindow,
  scheduleRevoke,
} from "./disruptions.ts";
import { type StatusCounts, statusCounts, waitForDrain } from "./drain.ts";
import { type BadBatch, type GoodIngest, sendBadBatches, sendGoodBatches } from "./ingest.ts";
import type { ChaosOptions } from "./options.ts";
import {
  type PhaseName,
  type PlannedEvent,
  planEvents,
  USAGE_RECORD_METERS,
  V1_METERS,
  type World,
} from "./plan.ts";
import type { RequestLog } from "./request-log.ts";
import { insertEvents } from "./seed.ts";
import { type WorkerPool, workerEnvironment } from "./workers.ts";

/** The key of "another Stripe account": the wrong-account phase deploys workers with it. */
export const OTHER_ACCOUNT_KEY = "sk_test_chaos_other_account";
/** How far ahead Stripe's clock runs during the storm: every event too old for it (35 days). */
const STORM_DAYS = 40;
/** How long the run waits for a halting phase's circuit to open. */
const OPEN_TIMEOUT_MS = 90_000;
/** How long the clock jump waits, at most, for an event that was sent and still waits. */
const JUMP_WAIT_MS = 60_000;
/**
 * The jump comes early when fewer than this share of the phase's events are still pending.
 * Events still pending after a send are what the jump is about, and they are the last ones left.
 */
const JUMP_QUEUE_SHARE = 0.25;
/**
 * Sent and still pending events the jump waits for: enough that some are surely still waiting
 * when every worker is killed a moment later (an in-flight one may settle meanwhile).
 */
const JUMP_MIN_WAITING = 20;

/** What every phase works with. */
export interface PhaseContext {
  options: ChaosOptions;
  db: Db;
  databaseUrl: string;
  emulator: RunningEmulator;
  pool: WorkerPool;
  /** The freezes: paused while Stripe's clock moves for the storm. */
  freezer: Repeating;
  /** Every stop of the whole pool (a clock jump, a deploy), with the leases it ended. */
  stops: DisruptionRecord[];
  world: World;
  circuits: CircuitWatch;
  requests: RequestLog;
  api: ApiProcess;
  /** Told about every look at the queue. */
  onTick: (phase: PhaseName, counts: StatusCounts) => void;
  signal: AbortSignal | undefined;
  /** Things running that the run must stop if it ends early (the wrong account's emulator). */
  cleanups: Array<() => Promise<void>>;
}

/** A phase as it ran, before its figures are computed. */
export interface RanPhase {
  name: PhaseName;
  events: PlannedEvent[];
  /** Planned events the API refused (their batch was not accepted). */
  notAccepted: string[];
  startMs: number;
  insertMs: number;
  drained: boolean;
  /** Halting phases: the circuit that opened, if one did. */
  halt: SeenCircuit | null;
}

/** The main phase's extras. */
export interface MainPhase extends RanPhase {
  revoke: RevokeWindow | null;
  jumps: ClockJump[];
  http: GoodIngest;
  badBatches: BadBatch[];
}

/** Waits for the queue to drain (and `alsoDone`), within the phase's deadline. */
function drain(ctx: PhaseContext, name: PhaseName, startMs: number, alsoDone?: () => boolean) {
  return waitForDrain(ctx.db, {
    deadlineMs: startMs + ctx.options.deadlineMs,
    onTick: (counts) => ctx.onTick(name, counts),
    ...(alsoDone ? { alsoDone } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
}

/**
 * The main phase: every event kind in every delivery mode, the API's ingest (good batches and
 * bad ones), the key revoked once, and the clock jump.
 */
export async function runMainPhase(ctx: PhaseContext): Promise<MainPhase> {
  const { options, world, db, api } = ctx;
  const startMs = Date.now();
  const now = new Date(startMs);
  const events = planEvents(world, {
    count: options.events,
    prefix: "main",
    phase: "main",
    now,
    poisonRate: options.poisonRate,
    asyncRate: options.asyncRate,
    itemGoneRate: options.itemGoneRate,
  });
  const viaApi = planEvents(world, {
    count: options.httpEvents,
    prefix: "http",
    phase: "main",
    now,
  }).map((e) => ({ ...e, viaApi: true }));
  const revocation: Revocation = scheduleRevoke(ctx.emulator, ctx.emulator.apiKey, {
    atMs: options.revokeAtMs,
    forMs: options.revokeForMs,
  });
  ctx.cleanups.push(async () => revocation.cancel());
  const jumps: ClockJump[] = [];
  // The jump runs beside the phase; `over` stops it if the phase ends first (an error, Ctrl-C).
  let over = false;
  let jumped = options.jumpAtMs <= 0;
  const jumping = (async () => {
    if (jumped) return;
    // At jumpAtMs, or sooner once most of the phase is done: on a fast machine the phase can
    // drain before jumpAtMs, and a jump over an empty queue tests nothing.
    const due = Date.now() + options.jumpAtMs;
    const finalBefore = finalCount(await statusCounts(db));
    const enough = Math.floor((events.length + viaApi.length) * (1 - JUMP_QUEUE_SHARE));
    while (Date.now() < due && !over && !ctx.signal?.aborted) {
      if (finalCount(await statusCounts(db)) - finalBefore >= enough) break;
      await sleep(Math.min(200, Math.max(0, due - Date.now())));
    }
    if (over || ctx.signal?.aborted) return;
    await waitForSentAndWaiting(db, JUMP_WAIT_MS, () => over);
    if (over) return;
    const jump = await jumpClock(ctx.pool, db, ctx.emulator, options.jumpHours * 3_600_000);
    jumps.push(jump);
    ctx.stops.push(...jump.killed);
  })().finally(() => {
    jumped = true;
  });
  // Awaited below; until then a failure must not be an unhandled rejection.
  jumping.catch(() => {});

  let insertMs = 0;
  let http: GoodIngest = { accepted: 0, refused: [] };
  let badBatches: BadBatch[] = [];
  const notAccepted = new Set<string>();
  let drained = false;
  try {
    insertMs = await insertEvents(db, events);
    http = await sendGoodBatches(api.url, api.ingestKey, viaApi);
    if (http.refused.length > 0) {
      // Which ids made it is read back: a refused batch must have stored none of its events.
      const stored = await rows<{ id: string }>(
        db,
        sql`select id from usage_events where id like 'http-%'`,
      );
      const have = new Set(stored.map((r) => r.id));
      for (const e of viaApi) if (!have.has(e.id)) notAccepted.add(e.id);
    }
    const template = viaApi[0] ?? events.find((e) => e.poison === null);
    badBatches = template
      ? await sendBadBatches(db, api.url, api.ingestKey, template, viaApi[0] ?? null)
      : [];
    drained = await drain(ctx, "main", startMs, () => revocation.finished() && jumped);
  } finally {
    over = true;
    await jumping;
  }
  return {
    name: "main",
    events: [...events, ...viaApi],
    notAccepted: [...notAccepted],
    startMs,
    insertMs,
    drained,
    halt: null,
    revoke: revocation.window(),
    jumps,
    http,
    badBatches,
  };
}

/** Events no longer pending. */
function finalCount(c: StatusCounts): number {
  return c.reported + c.failed + c.discarded;
}

/** Waits until some event was sent and waits (what a clock jump is about), or the time is up. */
async function waitForSentAndWaiting(
  db: Db,
  timeoutMs: number,
  cancelled: () => boolean,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !cancelled()) {
    const [row] = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from usage_events
          where status = 'pending' and first_sent_at is not null`,
    );
    if ((row?.n ?? 0) >= JUMP_MIN_WAITING) return;
    await sleep(200);
  }
}

/**
 * The systemic storm: Stripe's clock runs 40 days ahead, so every meter event of every customer
 * is "too far in the past" (a cause no event has alone) and nothing else is in the queue to
 * succeed. The circuit must open and nothing be failed; once the clock is right again, the
 * probe goes through and every event is reported. Meter events v1 only: the stream would accept
 * them and reject them later, and usage-record periods would roll past the events. Run with
 * nothing else pending: the 40 days prune every idempotency key the emulator holds.
 */
export async function runStormPhase(ctx: PhaseContext): Promise<RanPhase> {
  const { options, emulator, db } = ctx;
  const startMs = Date.now();
  // No worker may sleep through the clock's move: one frozen with a claim it has not sent
  // would wake 40 days later by Stripe's clock but seconds later by its own, and send it.
  // A worker just woken sends what it held at once: let those stale sends go out first.
  await ctx.freezer.pause();
  await sleep(options.worker.requestTimeoutMs + 2_000);
  emulator.advanceClock(STORM_DAYS * 86_400);
  ctx.freezer.resume();
  let over = false;
  try {
    const events = planEvents(ctx.world, {
      count: options.stormEvents,
      prefix: "storm",
      phase: "storm",
      now: new Date(startMs),
      meters: V1_METERS,
    });
    const insertMs = await insertEvents(db, events);
    const halt = await ctx.circuits.waitFor((s) => s.startsWith("systemic:"), OPEN_TIMEOUT_MS);
    if (halt) await sleep(options.haltHoldMs);
    emulator.advanceClock(-STORM_DAYS * 86_400);
    over = true;
    const drained = await drain(ctx, "storm", startMs);
    return { name: "storm", events, notAccepted: [], startMs, insertMs, drained, halt };
  } finally {
    if (!over) emulator.advanceClock(-STORM_DAYS * 86_400);
  }
}

/**
 * The wrong-account key: the workers are deployed (SIGTERM, restart) with the key of another
 * Stripe account, where none of the customers' subscription items exist: every usage record is
 * a 404 for every customer, and nothing is delivered. The circuit must open and nothing be
 * failed; once the right key is deployed again, every event is reported there. Usage records
 * only: a meter event sent to the wrong account is accepted with a 200 and rejected later,
 * into that account's error reports, which no reporter can see (see the run's report).
 */
export async function runWrongAccountPhase(
  ctx: PhaseContext,
): Promise<RanPhase & { otherLedger: ReturnType<RunningEmulator["ledger"]> }> {
  const { options, db, pool } = ctx;
  const startMs = Date.now();
  const other = await startEmulator(
    { port: 0, apiKeys: [OTHER_ACCOUNT_KEY], errorReportIntervalMs: 0 },
    { onUsageRequest: ctx.requests.observer("other") },
  );
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await other.close();
  };
  ctx.cleanups.push(close);
  const right = workerEnvironment(options, ctx.databaseUrl, ctx.emulator.url, ctx.emulator.apiKey);
  const wrong = workerEnvironment(options, ctx.databaseUrl, other.url, OTHER_ACCOUNT_KEY);
  try {
    ctx.stops.push(...(await haltAll(pool, db, "SIGTERM")));
    await pool.resume(wrong);
    const events = planEvents(ctx.world, {
      count: options.wrongAccountEvents,
      prefix: "wrong",
      phase: "wrong_account",
      now: new Date(),
      meters: USAGE_RECORD_METERS,
    });
    const insertMs = await insertEvents(db, events);
    const halt = await ctx.circuits.waitFor((s) => s.startsWith("systemic:"), OPEN_TIMEOUT_MS);
    if (halt) await sleep(options.haltHoldMs);
    ctx.stops.push(...(await haltAll(pool, db, "SIGTERM")));
    await pool.resume(right);
    const drained = await drain(ctx, "wrong_account", startMs);
    const otherLedger = other.ledger();
    return {
      name: "wrong_account",
      events,
      notAccepted: [],
      startMs,
      insertMs,
      drained,
      halt,
      otherLedger,
    };
  } finally {
    if (pool.isHeld) await pool.resume(right);
    await close();
  }
}

/** The baseline: no poison, no revocation, the same faults and kills. */
export async function runCleanPhase(ctx: PhaseContext): Promise<RanPhase> {
  const startMs = Date.now();
  const events = planEvents(ctx.world, {
    count: ctx.options.cleanEvents,
    prefix: "clean",
    phase: "clean",
    now: new Date(startMs),
  });
  const insertMs = await insertEvents(ctx.db, events);
  const drained = await drain(ctx, "clean", startMs);
  return { name: "clean", events, notAccepted: [], startMs, insertMs, drained, halt: null };
}
