import type { Db } from "../../src/db/connect.ts";
import type { Ledger } from "../../src/emulator/index.ts";
import type { ChaosReport, PhaseResult } from "./chaos.ts";
import { attemptOutcomes, killOutcomes, readAppliedAttempts, readRows } from "./collect.ts";
import type { DisruptionRecord, RevokeWindow } from "./disruptions.ts";
import { checkInvariants } from "./invariants.ts";
import { type Interval, phaseThroughput, rescueStats } from "./metrics.ts";
import type { ChaosOptions } from "./options.ts";
import { EXPECTED_CODES, type PlannedEvent } from "./plan.ts";
import type { UnexpectedExit } from "./workers.ts";

/** The workers' dedup window: the default, since the run is far shorter than it. */
const DEDUP_WINDOW_MS = 23 * 3_600_000;

/** A phase as it ran, before its figures are computed. */
export interface RanPhase {
  name: PhaseResult["name"];
  events: PlannedEvent[];
  startMs: number;
  insertMs: number;
  drained: boolean;
}

/** What a finished run hands over to be checked and measured. */
export interface RunRecord {
  options: ChaosOptions;
  database: ChaosReport["database"];
  db: Db;
  ledger: Ledger;
  phases: RanPhase[];
  revoke: RevokeWindow | null;
  kills: readonly DisruptionRecord[];
  freezes: readonly DisruptionRecord[];
  unexpectedExits: UnexpectedExit[];
  startedMs: number;
  aborted: boolean;
}

/** Reads the final state of the database, checks the invariants, computes the figures. */
export async function assembleReport(run: RunRecord): Promise<ChaosReport> {
  const { db, options } = run;
  const rows = await readRows(db);
  const poison = new Map<string, string>();
  for (const p of run.phases) for (const e of p.events) if (e.poison) poison.set(e.id, e.poison);
  const invariants = checkInvariants({
    ledger: run.ledger,
    rows,
    poison,
    expectedCodes: EXPECTED_CODES,
    dedupWindowMs: DEDUP_WINDOW_MS,
    applied: await readAppliedAttempts(db),
  });

  // The revocation, plus one probe interval for the halted workers to notice it is over.
  const excluded: Interval[] = run.revoke
    ? [
        {
          fromMs: run.revoke.fromMs,
          toMs: (run.revoke.toMs ?? Date.now()) + options.worker.haltProbeMs,
        },
      ]
    : [];
  const finalAt = new Map(rows.map((r) => [r.id, r.finalAtMs]));
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
    };
  });
  const report: ChaosReport = {
    options,
    database: run.database,
    phases,
    revoke: run.revoke,
    rescue: rescueStats(await killOutcomes(db, run.kills, run.revoke)),
    freezes: {
      count: run.freezes.length,
      held: run.freezes.reduce((n, f) => n + f.held.length, 0),
      takenOver: run.freezes.reduce((n, f) => n + (f.takenOver ?? 0), 0),
    },
    unexpectedExits: run.unexpectedExits,
    attempts: await attemptOutcomes(db),
    invariants,
    warnings: [],
    violations: [...invariants.violations],
    totalMs: Date.now() - run.startedMs,
  };
  addFindings(report, run.aborted);
  return report;
}

/** Adds what the run itself noticed: phases that did not drain, and the warnings. */
function addFindings(report: ChaosReport, aborted: boolean): void {
  const { options, rescue } = report;
  if (aborted) report.violations.push("interrupted before the queue drained");
  for (const p of report.phases) {
    if (!p.drained && !aborted) {
      report.violations.push(
        `phase ${p.name} did not drain within ${options.deadlineMs / 1000} s (its pending events are counted as lost)`,
      );
    }
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
}
