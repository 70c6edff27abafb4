/**
 * design.md §5, checked after a run: a pure function from what Stripe (the emulator's ledger)
 * holds and what the outbox says to a report and a list of violations. No I/O, so each rule
 * has a unit test that feeds it a broken ledger.
 */
import type { Ledger } from "../../src/emulator/index.ts";
import {
  type AppliedAttempt,
  bump,
  compareIdentifiers,
  compareTotals,
  overlappingSettles,
} from "./cross-checks.ts";

/** One outbox row at the end of a run, with its customer's Stripe id. */
export interface OutboxRow {
  id: string;
  customerKey: string;
  /** The customer's Stripe id; null when unlinked or unknown to Meterline. */
  stripeCustomerId: string | null;
  eventName: string;
  value: number;
  status: string;
  waitReason: string | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  lastHttpStatus: number | null;
  /** First ambiguous attempt, ms since epoch. */
  firstAmbiguousAtMs: number | null;
  /** Start of the last recorded send, ms since epoch. */
  lastAttemptAtMs: number | null;
}

/** What the checker compares. */
export interface InvariantInput {
  ledger: Pick<Ledger, "totals" | "events">;
  rows: readonly OutboxRow[];
  /** Poison events by id, with their kind; every other row is a healthy event. */
  poison: ReadonlyMap<string, string>;
  /** The dead-letter code each poison kind must end with. */
  expectedCodes: Readonly<Record<string, string>>;
  /** The reporter's dedup window (§5.5). */
  dedupWindowMs: number;
  /** Every attempt row whose outcome was written (all but lease_lost), for the settle guard. */
  applied: readonly AppliedAttempt[];
}

/** One thing found wrong: what (an event id, a customer × meter pair) and how. */
export interface Finding {
  subject: string;
  detail: string;
}

/** How the poison events of one kind ended. */
export interface PoisonKindResult {
  total: number;
  /** Failed with a code and a message. */
  failedWithReason: number;
  /** Failed with the code the kind must have. */
  expectedCode: number;
  /** Final codes (or the status when not failed), with counts. */
  codes: Record<string, number>;
}

/** The checker's answer: the figures of the report, and every violation in one line each. */
export interface InvariantReport {
  events: number;
  byStatus: Record<string, number>;
  failedByCode: Record<string, number>;
  ledger: { events: number; counted: number };
  /** Accepted events not in a final state, or reported but not counted by Stripe. */
  lost: Finding[];
  /** Identifiers Stripe counted twice, or counted without a reported event behind them. */
  doubleCounted: Finding[];
  /** (customer, meter) pairs whose Stripe total differs from the sum of reported events. */
  totalsMismatch: Finding[];
  /** Healthy events that ended failed or discarded. */
  wronglyFailed: Finding[];
  /** Failed events without a reason, or failed for an account-wide cause (§5.1, §5.3). */
  badDeadLetters: Finding[];
  /** Events sent after their first ambiguous attempt was older than the dedup window (§5.5). */
  lateSends: Finding[];
  /** Outcomes written by a worker after another had taken the event over (§4 settle guard). */
  staleSettles: Finding[];
  poison: { total: number; allFailedWithReason: boolean; byKind: Record<string, PoisonKindResult> };
  violations: string[];
}

const STATUSES = new Set(["pending", "reported", "failed", "discarded"]);

/**
 * Checks §5 (1, 2, 3 and 5; 4 and 6 need timing and the API: see the chaos report) and the
 * settle guard of §4, which the ledger alone cannot see: the identifier makes Stripe count a
 * stale worker's resend once anyway.
 */
export function checkInvariants(input: InvariantInput): InvariantReport {
  const { rows, ledger, poison } = input;
  const byStatus: Record<string, number> = {};
  const failedByCode: Record<string, number> = {};
  const lost: Finding[] = [];
  const wronglyFailed: Finding[] = [];
  const badDeadLetters: Finding[] = [];
  const lateSends: Finding[] = [];
  const byKind: Record<string, PoisonKindResult> = {};
  for (const kind of new Set(poison.values())) {
    byKind[kind] = { total: 0, failedWithReason: 0, expectedCode: 0, codes: {} };
  }

  for (const row of rows) {
    bump(byStatus, row.status);
    if (row.status === "failed") bump(failedByCode, row.lastErrorCode ?? "(no code)");
    // §5.1: exactly one known state, and a final one once the run has drained.
    if (!STATUSES.has(row.status)) {
      lost.push({ subject: row.id, detail: `unknown status "${row.status}"` });
    } else if (row.status === "pending") {
      const why = row.waitReason ?? "no visible reason (§5.1)";
      lost.push({ subject: row.id, detail: `still pending (${why})` });
    }
    if (row.status === "failed") {
      if (!row.lastErrorCode || !row.lastErrorMessage) {
        badDeadLetters.push({ subject: row.id, detail: "failed without a code and a message" });
      }
      // §5.3: 401/403 are about the account; no event may be dead-lettered for them.
      if (row.lastHttpStatus === 401 || row.lastHttpStatus === 403) {
        badDeadLetters.push({
          subject: row.id,
          detail: `failed on an account-wide ${row.lastHttpStatus} (${row.lastErrorCode})`,
        });
      }
    }
    // §5.5: no send once the first ambiguous attempt is past the dedup window.
    if (
      row.firstAmbiguousAtMs !== null &&
      row.lastAttemptAtMs !== null &&
      row.lastAttemptAtMs - row.firstAmbiguousAtMs >= input.dedupWindowMs
    ) {
      lateSends.push({ subject: row.id, detail: "sent after the dedup window had passed" });
    }
    const kind = poison.get(row.id);
    if (kind === undefined) {
      if (row.status === "failed" || row.status === "discarded") {
        wronglyFailed.push({ subject: row.id, detail: `${row.status}: ${row.lastErrorCode}` });
      }
      continue;
    }
    const result = byKind[kind];
    if (!result) continue;
    result.total++;
    bump(result.codes, row.status === "failed" ? (row.lastErrorCode ?? "(no code)") : row.status);
    if (row.status === "failed" && row.lastErrorCode && row.lastErrorMessage) {
      result.failedWithReason++;
      if (row.lastErrorCode === input.expectedCodes[kind]) result.expectedCode++;
    }
  }

  const { doubleCounted, missing } = compareIdentifiers(rows, ledger);
  lost.push(...missing);
  const totalsMismatch = compareTotals(rows, ledger);
  const staleSettles = overlappingSettles(input.applied);
  const poisonTotal = Object.values(byKind).reduce((n, k) => n + k.total, 0);
  const allFailedWithReason = Object.values(byKind).every((k) => k.failedWithReason === k.total);

  const violations = [
    summarize("§5.1/§5.2 lost", lost),
    summarize("§5.2 double-counted", doubleCounted),
    summarize("§5.2 Stripe's total differs from the reported sum", totalsMismatch),
    summarize("§5.3 wrongly failed (healthy events dead-lettered)", wronglyFailed),
    summarize("§5.1/§5.3 bad dead letters", badDeadLetters),
    summarize("§5.5 sent after the dedup window", lateSends),
    summarize("§4 settle guard: an outcome written after the lease was lost", staleSettles),
    ...Object.entries(byKind).flatMap(([kind, k]) => {
      const expected = input.expectedCodes[kind];
      if (k.expectedCode === k.total) return [];
      return [
        `poison ${kind}: ${k.total - k.expectedCode} of ${k.total} did not end failed with ${expected} (${describeCounts(k.codes)})`,
      ];
    }),
  ].filter((v): v is string => v !== null);

  return {
    events: rows.length,
    byStatus,
    failedByCode,
    ledger: {
      events: ledger.events.length,
      counted: ledger.events.filter((e) => e.counted).length,
    },
    lost,
    doubleCounted,
    totalsMismatch,
    wronglyFailed,
    badDeadLetters,
    lateSends,
    staleSettles,
    poison: { total: poisonTotal, allFailedWithReason, byKind },
    violations,
  };
}

/** "3 × a, 1 × b", for one-line messages. */
export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
}

/** One violation line: what broke, how often, and the first few cases. */
function summarize(what: string, findings: Finding[]): string | null {
  if (findings.length === 0) return null;
  const shown = findings
    .slice(0, 3)
    .map((f) => `${f.subject.slice(0, 60)}: ${f.detail}`)
    .join("; ");
  const more = findings.length > 3 ? `; … ${findings.length - 3} more` : "";
  return `${what}: ${findings.length} (${shown}${more})`;
}
