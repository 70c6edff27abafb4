/**
 * The model run's commands (fast-check model-based testing): each changes the real system and
 * the model alike, then checks what must hold at every moment (invariants.ts checkStep).
 */
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import { checkStep } from "./invariants.ts";
import {
  type FaultSpec,
  type FaultTarget,
  GROUP_OF,
  HEALTHY_CUSTOMERS,
  MAX_EVENTS,
  MAX_GHOSTS_PER_MODE,
  MAX_JUMPS,
  MAX_WORKERS,
  MODES,
  type Model,
  type ModelEvent,
} from "./model.ts";
import type { Who, World } from "./world.ts";

type Command = fc.AsyncCommand<Model, World>;

/** Real time every command lets pass after it acted, so that sends interleave with commands. */
const STEP_MS = 120;

/**
 * Lets a moment pass, then throws with every violation of the every-moment checks, naming the
 * command just run.
 */
async function checkNow(w: World, m: Model, after: string): Promise<void> {
  await sleep(STEP_MS);
  const violations = checkStep(await w.snapshot(), m);
  if (violations.length > 0) {
    throw new Error(`after ${after}:\n  ${violations.join("\n  ")}`);
  }
}

const SHORT: Record<DeliveryMode, string> = {
  meter_events: "me",
  meter_stream: "ms",
  usage_records: "ur",
};

/** One event an Ingest writes. */
export interface Pick {
  who: Who;
  mode: DeliveryMode;
  value: number;
}

function whoName(who: Who): string {
  return who.kind === "healthy" ? `h${who.index}` : who.kind;
}

/** Ingest n events for random customers and meters, some poison. */
export class Ingest implements Command {
  constructor(readonly picks: readonly Pick[]) {}
  check(m: Readonly<Model>): boolean {
    if (m.events.length + this.picks.length > MAX_EVENTS) return false;
    return MODES.every(
      (mode) =>
        m.ghosts[mode] +
          this.picks.filter((p) => p.who.kind === "ghost" && p.mode === mode).length <=
        MAX_GHOSTS_PER_MODE,
    );
  }
  async run(m: Model, w: World): Promise<void> {
    const now = Date.now();
    const events: ModelEvent[] = this.picks.map((p) => ({
      id: w.nextEventId(),
      kind: p.who.kind,
      mode: p.mode,
      customerKey: w.customerKey(p.who),
      value: p.value,
      ingestedAtMs: now,
      jumpedMsAtIngest: m.jumpedMs,
      killsAtIngest: m.kills,
      jumpsAtIngest: m.jumps,
    }));
    await w.ingest(events);
    m.events.push(...events);
    for (const e of events) if (e.kind === "ghost") m.ghosts[e.mode]++;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return `Ingest(${this.picks.map((p) => `${whoName(p.who)}/${SHORT[p.mode]}=${p.value}`).join(" ")})`;
  }
}

/** Start one more reporter worker. */
export class StartWorker implements Command {
  check(m: Readonly<Model>): boolean {
    return m.workers < MAX_WORKERS;
  }
  async run(m: Model, w: World): Promise<void> {
    w.startWorker();
    m.workers++;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "StartWorker";
  }
}

/** Kill a worker: stop() with a budget of 0 abandons every send in flight. */
export class KillWorker implements Command {
  constructor(readonly index: number) {}
  check(m: Readonly<Model>): boolean {
    return m.workers > 0;
  }
  async run(m: Model, w: World): Promise<void> {
    await w.killWorker(this.index % w.workers);
    m.workers--;
    m.kills++;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return `KillWorker(${this.index})`;
  }
}

/** Set faults on every usage endpoint or one group. */
export class SetFaults implements Command {
  constructor(
    readonly target: FaultTarget,
    readonly spec: FaultSpec,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, w: World): Promise<void> {
    w.setFaults(this.target, this.spec);
    m.faults.add(this.target);
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    const f = Object.entries(this.spec)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    return `SetFaults(${this.target}: ${f || "none"})`;
  }
}

/** Clear every fault. */
export class ClearFaults implements Command {
  check(m: Readonly<Model>): boolean {
    return m.faults.size > 0;
  }
  async run(m: Model, w: World): Promise<void> {
    w.clearFaults();
    m.faults.clear();
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "ClearFaults";
  }
}

/**
 * Hours pass while events wait: every worker is killed (a worker's memory — the events it holds,
 * their first send — cannot be moved in time with the rows), the outbox's stored times move back
 * and Stripe's clock forward, and as many workers start again.
 */
export class JumpClock implements Command {
  constructor(readonly hours: number) {}
  check(m: Readonly<Model>): boolean {
    return m.jumps < MAX_JUMPS;
  }
  async run(m: Model, w: World): Promise<void> {
    const workers = w.workers;
    await w.stopAll();
    m.kills += workers;
    await w.jump(this.hours);
    for (let i = 0; i < workers; i++) w.startWorker();
    m.jumpedMs += this.hours * 3_600_000;
    m.jumps++;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return `JumpClock(${this.hours}h)`;
  }
}

/** Stripe delivers its waiting error reports (thin events) to billing sync. */
export class DeliverWebhooks implements Command {
  check(): boolean {
    return true;
  }
  async run(m: Model, w: World): Promise<void> {
    await w.deliverWebhooks();
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "DeliverWebhooks";
  }
}

/** The Stripe key answers 401 until restored. */
export class RevokeKey implements Command {
  check(m: Readonly<Model>): boolean {
    return !m.keyRevoked;
  }
  async run(m: Model, w: World): Promise<void> {
    w.emu.revokeKey(w.stripeKey);
    m.keyRevoked = true;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "RevokeKey";
  }
}

/** The key works again. */
export class RestoreKey implements Command {
  check(m: Readonly<Model>): boolean {
    return m.keyRevoked;
  }
  async run(m: Model, w: World): Promise<void> {
    w.emu.restoreKey(w.stripeKey);
    m.keyRevoked = false;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "RestoreKey";
  }
}

/** Let the workers run until nothing is left to settle, or `ms` passed. */
export class RunUntilQuiet implements Command {
  constructor(readonly ms: number) {}
  check(m: Readonly<Model>): boolean {
    return m.workers > 0;
  }
  async run(m: Model, w: World): Promise<void> {
    await w.runUntilQuiet(this.ms);
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return `RunUntilQuiet(${this.ms}ms)`;
  }
}

/** An operator retries every dead letter of the run (`dlq retry`, inside the dedup window). */
export class OperatorRetry implements Command {
  check(m: Readonly<Model>): boolean {
    return m.events.length > 0;
  }
  async run(m: Model, w: World): Promise<void> {
    const retried = await w.operatorRetry(await w.failedIds());
    if (m.itemFixed) for (const id of retried) m.retriedAfterFix.add(id);
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "OperatorRetry";
  }
}

/** An operator sets the misfiled customer's usage records item right. */
export class FixItem implements Command {
  check(m: Readonly<Model>): boolean {
    return !m.itemFixed;
  }
  async run(m: Model, w: World): Promise<void> {
    await w.fixItem();
    m.itemFixed = true;
    await checkNow(w, m, this.toString());
  }
  toString(): string {
    return "FixItem";
  }
}

const who: fc.Arbitrary<Who> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .integer({ min: 0, max: HEALTHY_CUSTOMERS - 1 })
      .map((index): Who => ({ kind: "healthy", index })),
  },
  { weight: 1, arbitrary: fc.constant<Who>({ kind: "unlinked" }) },
  { weight: 1, arbitrary: fc.constant<Who>({ kind: "deleted" }) },
  { weight: 1, arbitrary: fc.constant<Who>({ kind: "ghost" }) },
  { weight: 1, arbitrary: fc.constant<Who>({ kind: "misfiled" }) },
);

const pick: fc.Arbitrary<Pick> = fc.record({
  who,
  mode: fc.constantFrom(...MODES),
  value: fc.integer({ min: 1, max: 50 }),
});

const faultSpec: fc.Arbitrary<FaultSpec> = fc
  .record({
    p500: fc.constantFrom(0, 0.3, 1),
    pAmbiguous: fc.constantFrom(0, 0.3, 0.6),
    p429: fc.constantFrom(0, 0.3),
    pTimeout: fc.constantFrom(0, 0.1),
    latencyMs: fc.constantFrom(0, 50, 150),
  })
  .filter((f) => f.p500 + f.pAmbiguous + f.p429 + f.pTimeout <= 1);

/** Every usage endpoint half the time, one group otherwise. */
const target: fc.Arbitrary<FaultTarget> = fc.oneof(
  fc.constant<FaultTarget>("global"),
  fc.constantFrom<FaultTarget>(...MODES.map((mode) => GROUP_OF[mode])),
);

/** Every command, some listed twice to be drawn more often. */
export const commandArbitraries: Array<fc.Arbitrary<Command>> = [
  fc.array(pick, { minLength: 1, maxLength: 8 }).map((picks) => new Ingest(picks)),
  fc.array(pick, { minLength: 1, maxLength: 8 }).map((picks) => new Ingest(picks)),
  fc.constant(new StartWorker()),
  fc.nat({ max: 1 }).map((i) => new KillWorker(i)),
  fc.tuple(target, faultSpec).map(([t, f]) => new SetFaults(t, f)),
  fc.constant(new ClearFaults()),
  fc.constantFrom(0.5, 2, 12, 23.5, 25).map((h) => new JumpClock(h)),
  fc.constant(new DeliverWebhooks()),
  fc.constant(new RevokeKey()),
  fc.constant(new RestoreKey()),
  fc.constantFrom(300, 800, 1_500).map((ms) => new RunUntilQuiet(ms)),
  fc.constantFrom(300, 800, 1_500).map((ms) => new RunUntilQuiet(ms)),
  fc.constant(new OperatorRetry()),
  fc.constant(new FixItem()),
];

/** Faults in force from the start of a run (or none): sends meet them before any command. */
export const initialFaults: fc.Arbitrary<SetFaults | null> = fc.option(
  fc.tuple(target, faultSpec).map(([t, f]) => new SetFaults(t, f)),
  { freq: 3, nil: null },
);
