import { defaultConfig } from "../../src/config.ts";
import type { Db } from "../../src/db/connect.ts";
import type { DriftRow } from "../../src/db/schema/reconciliations.ts";
import type { Ledger } from "../../src/emulator/index.ts";
import { DEDUP_WINDOW_MS } from "../../src/emulator/state/meter-events.ts";
import type { FlusherStats } from "./async-flusher.ts";
import type { SeenCircuit } from "./circuits.ts";
import type { ClockJump } from "./clock-jump.ts";
import { attemptOutcomes, killOutcomes, type RunRow, readAppliedAttempts } from "./collect.ts";
import { StripeCounts } from "./cross-checks.ts";
import type { DisruptionRecord, RevokeWindow } from "./disruptions.ts";
import type { BadBatch, GoodIngest } from "./ingest.ts";
import {
  checkInvariants,
  type Disruption,
  type DisruptionKind,
  INVARIANTS,
  type InvariantName,
  type InvariantReport,
} from "./invariants.ts";
import {
  type Interval,
  type PhaseThroughput,
  phaseThroughput,
  type RescueStats,
  rescueStats,
} from "./metrics.ts";
import type { Reconciliation } from "./operator.ts";
import type { ChaosOptions } from "./options.ts";
import type { MainPhase, RanPhase } from "./phases.ts";
import { modeOf, type PhaseName, type PlannedEvent } from "./plan.ts";
import type { LoggedRequest } from "./request-log.ts";
import { countScenarios, SCENARIOS, type ScenarioName } from "./scenarios.ts";
import type { UnexpectedExit } from "./workers.ts";

/** One phase of the run: what it wrote and how fast it drained. */
export interface PhaseResult {
  name: PhaseName;
  /** Events the phase wrote or sent. */
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
  /** Halting phases: the circuit seen open, and after how long. */
  halt: { scope: string; afterMs: number } | null;
}

/** Everything a chaos run found: the report prints it, the small chaos test asserts on it. */
export interface ChaosReport {
  options: ChaosOptions;
  database: { name: string; url: string; kept: boolean };
  phases: PhaseResult[];
  revoke: RevokeWindow | null;
  /** The clock jumps, without their id lists. */
  jumps: Array<
    Omit<ClockJump, "chosen" | "neverAnswered" | "killed" | "aged"> & {
      chosen: number;
      /** Events already final at the jump, aged with it. */
      aged: number;
      neverAnswered: number;
      killed: number;
      /** Live leases the killed workers held: claims ended with no outcome. */
      killedHeld: number;
      /** Of the chosen events, how many Stripe had applied before the jump. */
      heldByStripe: number;
    }
  >;
  rescue: RescueStats;
  freezes: { count: number; held: number; takenOver: number };
  unexpectedExits: UnexpectedExit[];
  /** Attempt rows by outcome. */
  attempts: Record<string, number>;
  invariants: InvariantReport;
  scenarios: Record<ScenarioName, number>;
  /** Other figures worth reading beside the scenarios. */
  figures: {
    asyncReports: FlusherStats;
    reconciliation: { examined: number; resolved: number; refusals: string[] };
    http: { sent: number; accepted: number; refused: number };
    badBatches: BadBatch[];
    requests: { total: number; byGroup: Record<string, number>; unanswered: number };
    circuits: Array<{ scope: string; atMs: number }>;
  };
  warnings: string[];
  /** Every reason the run failed, one line each: empty means it passed. */
  failures: string[];
  /** Set-up, every phase and the checks. */
  totalMs: number;
}

/** What a finished run hands over to be checked and measured. */
export interface RunRecord {
  options: ChaosOptions;
  database: ChaosReport["database"];
  db: Db;
  ledger: Ledger;
  otherLedger: Ledger | null;
  requests: readonly LoggedRequest[];
  phases: RanPhase[];
  main: MainPhase;
  final: RunRow[];
  reconciled: RunRow[];
  reconciliation: Reconciliation;
  /** The product's reconciliation, run after the operator's (invariants.ts). */
  productReconciliation: { drift: readonly DriftRow[] } | { error: string };
  flusher: FlusherStats;
  circuits: SeenCircuit[];
  kills: readonly DisruptionRecord[];
  freezes: readonly DisruptionRecord[];
  /** Stops of the whole pool (clock jumps, deploys). */
  stops: readonly DisruptionRecord[];
  unexpectedExits: UnexpectedExit[];
  startedMs: number;
  aborted: boolean;
}

/** Checks the invariants, counts the scenarios, computes the figures. */
export async function assembleReport(run: RunRecord): Promise<ChaosReport> {
  const { db, options, main } = run;
  const planned = new Map<string, PlannedEvent>();
  const notAccepted = new Set<string>();
  for (const p of run.phases) {
    for (const e of p.events) planned.set(e.id, e);
    for (const id of p.notAccepted) notAccepted.add(id);
  }
  const jumped = new Set(main.jumps.flatMap((j) => j.chosen));
  const safeMode = (name: string) => {
    try {
      return modeOf(name);
    } catch {
      return null;
    }
  };
  const invariants = checkInvariants({
    planned,
    notAccepted,
    final: run.final,
    reconciled: run.reconciled,
    resolved: new Set(run.reconciliation.resolved),
    ledger: run.ledger,
    otherLedger: run.otherLedger,
    requests: run.requests,
    stripeDedupWindowMs: DEDUP_WINDOW_MS,
    jumped,
    disrupted: heldAtDisruption({ killed: run.kills, frozen: run.freezes, stopped: run.stops }),
    // The workers run with the default (workers.ts sets no METERLINE_CRASH_LOOP_CLAIMS).
    crashLoopClaims: defaultConfig().worker.crashLoopClaims,
    applied: await readAppliedAttempts(db),
    badBatches: main.badBatches,
    modeOf: safeMode,
    productReconciliation: run.productReconciliation,
  });
  const halted = (name: PhaseName) => run.phases.filter((p) => p.name === name && p.halt).length;
  const scenarios = countScenarios({
    kills: run.kills.length + main.jumps.reduce((n, j) => n + j.killed.length, 0),
    freezes: run.freezes.length,
    revocations: main.revoke?.toMs != null ? 1 : 0,
    whilePending: run.flusher.whilePending,
    stormsHalted: halted("storm"),
    wrongAccountHalts: halted("wrong_account"),
    jumps: main.jumps.length,
    final: run.final,
    planned,
    jumped,
    ledger: run.ledger,
    requests: run.requests,
    badBatches: main.badBatches,
  });

  // The revocation, plus one probe interval for the halted workers to notice it is over.
  const excluded: Interval[] = main.revoke
    ? [
        {
          fromMs: main.revoke.fromMs,
          toMs: (main.revoke.toMs ?? Date.now()) + options.worker.haltProbeMs,
        },
      ]
    : [];
  // Final times as they happened: the clock jump aged those of events already final.
  const aged = new Map(main.jumps.flatMap((j) => [...j.aged]));
  const finalAt = new Map(run.final.map((r) => [r.id, aged.get(r.id) ?? r.finalAtMs]));
  const phases = run.phases.map((p): PhaseResult => {
    const times = p.events.flatMap((e) => {
      const t = finalAt.get(e.id);
      return t == null ? [] : [t];
    });
    return {
      name: p.name,
      events: p.events.length,
      poison: p.events.filter((e) => e.poison).length,
      drained: p.drained,
      startMs: p.startMs,
      insertMs: p.insertMs,
      throughput: phaseThroughput(times, p.startMs, p.name === "main" ? excluded : []),
      halt: p.halt ? { scope: p.halt.scope, afterMs: p.halt.seenAtMs - p.startMs } : null,
    };
  });
  const stripe = new StripeCounts(run.ledger, run.requests);
  const held = (id: string) => {
    const mode = planned.get(id) ? safeMode(planned.get(id)?.eventName ?? "") : null;
    return mode !== null && stripe.count(id, mode) > 0;
  };
  const byGroup: Record<string, number> = {};
  for (const r of run.requests)
    byGroup[`${r.account}:${r.group}`] = (byGroup[`${r.account}:${r.group}`] ?? 0) + 1;
  const report: ChaosReport = {
    options,
    database: run.database,
    phases,
    revoke: main.revoke,
    jumps: main.jumps.map((j) => ({
      atMs: j.atMs,
      shiftMs: j.shiftMs,
      stripeFromMs: j.stripeFromMs,
      stripeToMs: j.stripeToMs,
      resumedMs: j.resumedMs,
      killed: j.killed.length,
      killedHeld: j.killed.reduce((n, k) => n + k.held.length, 0),
      chosen: j.chosen.length,
      aged: j.aged.size,
      neverAnswered: j.neverAnswered.length,
      heldByStripe: j.chosen.filter(held).length,
    })),
    rescue: rescueStats(await killOutcomes(db, run.kills, quietSpans(run), aged)),
    freezes: {
      count: run.freezes.length,
      held: run.freezes.reduce((n, f) => n + f.held.length, 0),
      takenOver: run.freezes.reduce((n, f) => n + (f.takenOver ?? 0), 0),
    },
    unexpectedExits: run.unexpectedExits,
    attempts: await attemptOutcomes(db),
    invariants,
    scenarios,
    figures: {
      asyncReports: run.flusher,
      reconciliation: {
        examined: run.reconciliation.examined,
        resolved: run.reconciliation.resolved.length,
        refusals: run.reconciliation.refusals,
      },
      http: httpFigures(main.http, options.httpEvents),
      badBatches: main.badBatches,
      requests: {
        total: run.requests.length,
        byGroup,
        unanswered: run.requests.filter((r) => !r.answered).length,
      },
      circuits: run.circuits.map((c) => ({ scope: c.scope, atMs: c.seenAtMs })),
    },
    warnings: [],
    failures: [],
    totalMs: Date.now() - run.startedMs,
  };
  addFindings(report, run.aborted);
  return report;
}

/** When nothing could send: the revocation, each jump's downtime, each halting phase. */
function quietSpans(run: RunRecord): Interval[] {
  const spans: Interval[] = [];
  const probe = run.options.worker.haltProbeMs;
  const r = run.main.revoke;
  if (r) spans.push({ fromMs: r.fromMs, toMs: (r.toMs ?? Date.now()) + probe });
  for (const j of run.main.jumps) spans.push({ fromMs: j.atMs, toMs: j.resumedMs + probe });
  for (const p of run.phases) {
    if (p.name === "storm" || p.name === "wrong_account")
      spans.push({ fromMs: p.startMs, toMs: Date.now() });
  }
  return spans;
}

function httpFigures(http: GoodIngest, sent: number) {
  return { sent, accepted: http.accepted, refused: http.refused.length };
}

/** The failures (invariants, scenarios, phases) and the warnings. */
function addFindings(report: ChaosReport, aborted: boolean): void {
  const { options, rescue, invariants, scenarios } = report;
  if (aborted) report.failures.push("interrupted before the queue drained");
  for (const p of report.phases) {
    if (!p.drained && !aborted) {
      report.failures.push(
        `phase ${p.name} did not drain within ${options.deadlineMs / 1000} s (its pending events are counted as lost)`,
      );
    }
  }
  for (const name of Object.keys(INVARIANTS) as InvariantName[]) {
    const found = invariants.findings[name];
    if (found.length === 0) continue;
    const shown = found
      .slice(0, 3)
      .map((f) => `${f.subject.slice(0, 60)}: ${f.detail}`)
      .join("; ");
    const more = found.length > 3 ? `; … ${found.length - 3} more` : "";
    report.failures.push(`invariant ${name}: ${found.length} (${shown}${more})`);
  }
  for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
    if (scenarios[name] === 0)
      report.failures.push(`scenario ${name} never happened: ${SCENARIOS[name]}`);
  }
  if (options.revokeForMs > 0 && report.revoke?.toMs == null) {
    report.warnings.push("the key revocation never ran: the main phase ended before --revoke-at");
  }
  const bound = options.worker.leaseMs + options.worker.pollMs + 1_000;
  const resent = rescue.maxUntilResentOnceMs;
  if (resent !== null && resent > bound) {
    report.warnings.push(
      `an event held by one SIGKILLed worker (outside the revocation) was first sent again ${resent} ms after the kill, more than lease + poll + 1 s (${bound} ms)`,
    );
  }
  for (const exit of report.unexpectedExits) {
    report.warnings.push(
      `worker ${exit.workerId} exited by itself (code ${exit.code}, signal ${exit.signal}); see the log`,
    );
  }
  const a = report.figures.asyncReports;
  if (a.unnamed > 0) {
    report.warnings.push(
      `${a.unnamed} asynchronous rejection(s) were counted but not named in an error report: Meterline cannot fail those (they show as reported but not counted)`,
    );
  }
  for (const d of a.failedDeliveries) report.warnings.push(`error report not delivered: ${d}`);
  for (const r of report.figures.reconciliation.refusals) {
    report.warnings.push(`the API refused the operator's resolve: ${r}`);
  }
  if (report.figures.http.refused > 0) {
    report.warnings.push(`${report.figures.http.refused} good batch(es) refused by the API`);
  }
}

/** Per event, the kills, freezes and stops that found it held by the worker they took down. */
function heldAtDisruption(
  byKind: Record<DisruptionKind, readonly DisruptionRecord[]>,
): Map<string, Disruption[]> {
  const seen = new Map<string, Disruption[]>();
  for (const [kind, records] of Object.entries(byKind) as [DisruptionKind, DisruptionRecord[]][]) {
    for (const r of records) {
      for (const id of r.held) {
        const list = seen.get(id) ?? [];
        list.push({ workerId: r.workerId, kind });
        seen.set(id, list);
      }
    }
  }
  return seen;
}
