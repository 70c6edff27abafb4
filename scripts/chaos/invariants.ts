/**
 * design.md §5, checked after a run: a pure function from what Stripe holds (the emulator's
 * ledger and request log, which no worker writes), what the run planned (which events are
 * healthy, which are poison and how), and what the outbox says, to one list of findings per
 * invariant. No I/O, so each rule has a unit test that feeds it a broken ledger or log.
 */
import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import type { DriftRow } from "../../src/db/schema/reconciliations.ts";
import type { Ledger } from "../../src/emulator/index.ts";
import {
  type AppliedAttempt,
  compareCounts,
  compareTotals,
  type OutboxRow,
  overlappingSettles,
  StripeCounts,
} from "./cross-checks.ts";
import { bump, type Finding } from "./findings.ts";
import { acceptedPoison, type BadBatch } from "./ingest.ts";
import { sentAfterDedupWindow, unexplainedRecords } from "./log-checks.ts";
import { expectedCode, type PlannedEvent, type PoisonKind } from "./plan.ts";
import type { LoggedRequest } from "./request-log.ts";

export type { OutboxRow } from "./cross-checks.ts";

/** The invariants, in report order: each must have no finding. */
export const INVARIANTS = {
  lost: "§5.1 every accepted event is in the outbox as accepted, and final (none pending, none vanished)",
  counted_more_than_once:
    "§5.2 Stripe counts no event twice (ledger; usage records by Idempotency-Key)",
  reported_but_not_counted:
    "§5.7 no event is reported that Stripe does not count (an asynchronous rejection included)",
  counted_but_not_reported:
    "§5.2 nothing is counted by Stripe that the outbox does not say reported (or a person resolved)",
  totals_differ: "§5.2 per customer × meter, Stripe's total is the sum of the reported events",
  failed_by_account_or_systemic_cause:
    "§5.3 no event is failed for a revoked key, an account-wide code, a systemic storm or a wrong-account key",
  wrongly_failed:
    "§5.3 no healthy event is dead-lettered (a safe give-up Meterline must make aside)",
  poison_not_failed_as_expected: "§1 every poison event ends failed with its code and a message",
  dead_letter_without_reason: "§5.1 every failed event has a code and a message",
  sent_after_dedup_window:
    "§5.5 no identifier is sent again more than 24 h after its first send, by Stripe's clock (request log)",
  outcome_written_after_lease_lost: "§4 settle guard: no outcome written after the lease was lost",
  poison_batch_accepted: "§6 a bad batch is refused whole with a 4xx, nothing stored",
  ledger_unexplained_by_log:
    "the request log explains Stripe's ledger (usage records), and the wrong key's account holds nothing",
  reconciliation_drift:
    "Meterline's own reconciliation (meterline reconcile) finds drift exactly where Stripe's ledger differs from the outbox (meter events), and runs",
} as const;

/** One invariant's name. */
export type InvariantName = keyof typeof INVARIANTS;

/** How the run took a worker down. */
export type DisruptionKind = "killed" | "frozen" | "stopped";

/** One worker the run took down while it held an event. */
export interface Disruption {
  workerId: string;
  kind: DisruptionKind;
}

/** What the checker compares. */
export interface InvariantInput {
  /** Every event the run wrote or sent (accepted or not), by id. */
  planned: ReadonlyMap<string, PlannedEvent>;
  /** Ids of planned events the API refused (their batch answered non-202): not accepted. */
  notAccepted: ReadonlySet<string>;
  /** The outbox once every phase drained, before the operator's reconciliation. */
  final: readonly OutboxRow[];
  /** The outbox after it. */
  reconciled: readonly OutboxRow[];
  /** Ids the operator resolved as delivered. */
  resolved: ReadonlySet<string>;
  /** Stripe's ledger (our account), and the wrong key's account's (null if none ran). */
  ledger: Pick<Ledger, "totals" | "events" | "usage_records">;
  otherLedger: Pick<Ledger, "events" | "usage_records"> | null;
  /** The emulator's request log. */
  requests: readonly LoggedRequest[];
  /** Stripe's dedup window (24 h), ms by its clock. */
  stripeDedupWindowMs: number;
  /** Events of the clock jumps' chosen sets. */
  jumped: ReadonlySet<string>;
  /**
   * Per event, the run's kills, freezes and stops of the pool that took down a worker while it
   * held the event: each ended one of its claims with no outcome.
   */
  disrupted: ReadonlyMap<string, readonly Disruption[]>;
  /** The workers' METERLINE_CRASH_LOOP_CLAIMS: claims in a row lost before crash_loop. */
  crashLoopClaims: number;
  /** Every attempt row whose outcome was written, for the settle guard. */
  applied: readonly AppliedAttempt[];
  /** The bad batches posted to the API. */
  badBatches: readonly BadBatch[];
  /** The delivery mode of an event name (null for one the run never declared). */
  modeOf: (eventName: string) => DeliveryMode | null;
  /**
   * What the product's reconciliation (POST /v1/reconciliations, after the operator's) found:
   * its drift, or why it could not run.
   */
  productReconciliation: { drift: readonly DriftRow[] } | { error: string };
}

/** How the poison events of one kind ended. */
export interface PoisonKindResult {
  total: number;
  /** Failed with the code the kind must have (and a message). */
  asExpected: number;
  /** Final codes (or the status when not failed), with counts. */
  codes: Record<string, number>;
}

/** The checker's answer: findings per invariant, and the figures of the report. */
export interface InvariantReport {
  findings: Record<InvariantName, Finding[]>;
  events: number;
  byStatus: Record<string, number>;
  failedByCode: Record<string, number>;
  ledger: { meterEvents: number; counted: number; usageRecords: number };
  poison: { total: number; byKind: Record<string, PoisonKindResult> };
}

/**
 * Codes that say the account or its key is at fault, never an event. The same list as
 * classify.ts, kept apart on purpose: the checker must not share the classifier's definition,
 * or a code the classifier forgot would be forgiven by the check too.
 */
const ACCOUNT_CODES = new Set([
  "account_invalid",
  "api_key_expired",
  "platform_api_key_expired",
  "platform_account_required",
  "secret_key_required",
  "testmode_charges_only",
  "livemode_mismatch",
  "request_blocked",
  "insufficient_permissions",
]);

/** The rejection a halting phase's cause gives every customer: failing an event for it is §5.3's breach. */
const SYSTEMIC_CODES: Partial<Record<PlannedEvent["phase"], string>> = {
  storm: "timestamp_too_far_in_past",
  wrong_account: "resource_missing",
};

/**
 * Safe give-ups a healthy event may end with: a person reconciles them (operator.ts). A
 * crash_loop is one only when the run itself took the event's worker down that many times: to
 * the reporter that is what a poison event that kills its worker looks like. (The freezer
 * picks workers that hold leases, and while the others idle that may be the one sending a
 * suspect alone, again and again.) Fewer means claims were lost with no kill or freeze behind
 * them: live workers losing their leases.
 */
function allowedGiveUp(row: OutboxRow, input: InvariantInput): boolean {
  switch (row.lastErrorCode) {
    case "usage_record_unverified":
      return true;
    case "dedup_window_expired":
      return input.jumped.has(row.id);
    case "crash_loop":
      return (input.disrupted.get(row.id)?.length ?? 0) >= input.crashLoopClaims;
    default:
      return false;
  }
}

const STATUSES = new Set(["pending", "reported", "failed", "discarded"]);

/** Checks every invariant. */
export function checkInvariants(input: InvariantInput): InvariantReport {
  const { final, planned } = input;
  const findings = Object.fromEntries(
    Object.keys(INVARIANTS).map((k) => [k, [] as Finding[]]),
  ) as Record<InvariantName, Finding[]>;
  const byStatus: Record<string, number> = {};
  const failedByCode: Record<string, number> = {};
  const byKind: Record<string, PoisonKindResult> = {};
  const seen = new Set<string>();

  for (const row of final) {
    seen.add(row.id);
    bump(byStatus, row.status);
    if (row.status === "failed") bump(failedByCode, row.lastErrorCode ?? "(no code)");
    const plan = planned.get(row.id);
    checkState(row, plan, findings);
    if (row.status === "failed") checkDeadLetter(row, plan, input, findings);
    if (plan?.poison) checkPoison(row, plan, plan.poison, input, byKind, findings);
  }
  for (const [id, plan] of planned) {
    if (seen.has(id) || input.notAccepted.has(id)) continue;
    findings.lost.push({
      subject: id,
      detail: `${plan.viaApi ? "accepted by the API" : "written"} but not in the outbox`,
    });
  }

  const stripe = new StripeCounts(input.ledger, input.requests);
  const counts = compareCounts(input.reconciled, stripe, input.modeOf, input.resolved);
  findings.counted_more_than_once.push(...counts.countedMoreThanOnce);
  findings.reported_but_not_counted.push(...counts.reportedNotCounted);
  findings.counted_but_not_reported.push(...counts.countedNotReported);
  findings.totals_differ.push(...compareTotals(input.reconciled, input.ledger));
  findings.sent_after_dedup_window.push(
    ...sentAfterDedupWindow(input.requests, input.stripeDedupWindowMs),
  );
  findings.outcome_written_after_lease_lost.push(...overlappingSettles(input.applied));
  findings.poison_batch_accepted.push(...acceptedPoison(input.badBatches));
  findings.ledger_unexplained_by_log.push(
    ...unexplainedRecords(input.requests, input.ledger, input.otherLedger),
  );
  findings.reconciliation_drift.push(...checkProductReconciliation(input));

  return {
    findings,
    events: final.length,
    byStatus,
    failedByCode,
    ledger: {
      meterEvents: input.ledger.events.length,
      counted: input.ledger.events.filter((e) => e.counted).length,
      usageRecords: input.ledger.usage_records.length,
    },
    poison: {
      total: Object.values(byKind).reduce((n, k) => n + k.total, 0),
      byKind,
    },
  };
}

/** §5.1: a known, final state, and the content that was accepted. */
function checkState(
  row: OutboxRow,
  plan: PlannedEvent | undefined,
  findings: Record<InvariantName, Finding[]>,
): void {
  if (!STATUSES.has(row.status)) {
    findings.lost.push({ subject: row.id, detail: `unknown status "${row.status}"` });
  } else if (row.status === "pending") {
    findings.lost.push({
      subject: row.id,
      detail: `still pending (${row.waitReason ?? "no visible reason"})`,
    });
  }
  if (
    plan &&
    (plan.value !== row.value ||
      plan.customerKey !== row.customerKey ||
      plan.eventName !== row.eventName)
  ) {
    findings.lost.push({
      subject: row.id,
      detail: `stored as ${row.customerKey} × ${row.eventName} = ${row.value}, accepted as ${plan.customerKey} × ${plan.eventName} = ${plan.value}`,
    });
  }
}

/** §5.1 and §5.3 for one dead letter. */
function checkDeadLetter(
  row: OutboxRow,
  plan: PlannedEvent | undefined,
  input: InvariantInput,
  findings: Record<InvariantName, Finding[]>,
): void {
  if (!row.lastErrorCode || !row.lastErrorMessage) {
    findings.dead_letter_without_reason.push({
      subject: row.id,
      detail: "failed without a code and a message",
    });
  }
  const code = row.lastErrorCode ?? "(no code)";
  if (row.lastHttpStatus === 401 || row.lastHttpStatus === 403 || ACCOUNT_CODES.has(code)) {
    findings.failed_by_account_or_systemic_cause.push({
      subject: row.id,
      detail: `failed on an account-wide answer (${row.lastHttpStatus ?? "no status"} ${code})`,
    });
    return;
  }
  const cause = plan ? SYSTEMIC_CODES[plan.phase] : undefined;
  if (plan && plan.poison === null && cause === code) {
    findings.failed_by_account_or_systemic_cause.push({
      subject: row.id,
      detail: `failed with ${code}, the code every customer got in the ${plan.phase === "storm" ? "systemic storm" : "wrong-account key"} phase`,
    });
    return;
  }
  if (plan && plan.poison === null && !allowedGiveUp(row, input)) {
    const why = code === "crash_loop" ? crashLoopWhy(row.id, input) : "";
    findings.wrongly_failed.push({ subject: row.id, detail: `failed: ${code}${why}` });
  }
}

/**
 * How far the run's own disruptions explain a crash loop, and each of the event's lost claims
 * (its worker_lost rows): the worker, and what took it down, or when its lease ran out with no
 * disruption behind it (a live worker that stopped renewing: the case to look into).
 */
function crashLoopWhy(id: string, input: InvariantInput): string {
  const seen = input.disrupted.get(id) ?? [];
  const lost = input.applied
    .filter((a) => a.eventId === id && a.outcome === "worker_lost")
    .map((a) => {
      const by = seen.find((d) => d.workerId === a.worker);
      return `${a.worker} ${by ? by.kind : `not disrupted, lease out at ${new Date(a.startedAtMs).toISOString()}`}`;
    });
  const claims = lost.length > 0 ? `; lost claims: ${lost.join(", ")}` : "";
  return ` (held at ${seen.length} of the run's kills, freezes and stops; ${input.crashLoopClaims} explain it${claims})`;
}

/** A poison event must end failed with its kind's code (or, caught by the clock jump, as expired). */
function checkPoison(
  row: OutboxRow,
  plan: PlannedEvent,
  kind: PoisonKind,
  input: InvariantInput,
  byKind: Record<string, PoisonKindResult>,
  findings: Record<InvariantName, Finding[]>,
): void {
  const result = byKind[kind] ?? { total: 0, asExpected: 0, codes: {} };
  byKind[kind] = result;
  result.total++;
  bump(result.codes, row.status === "failed" ? (row.lastErrorCode ?? "(no code)") : row.status);
  const mode = input.modeOf(plan.eventName);
  const expected = mode ? expectedCode(kind, mode) : "?";
  const asExpected =
    row.status === "failed" &&
    row.lastErrorMessage !== null &&
    (row.lastErrorCode === expected ||
      (row.lastErrorCode === "dedup_window_expired" && input.jumped.has(row.id)));
  if (asExpected) {
    result.asExpected++;
    return;
  }
  findings.poison_not_failed_as_expected.push({
    subject: row.id,
    detail: `${kind}: expected failed with ${expected}, got ${row.status === "failed" ? `failed with ${row.lastErrorCode ?? "no code"}` : row.status}`,
  });
}

/**
 * The product's reconciliation against the ledger: the customer × meter pairs it finds drift in
 * must be exactly those where Stripe's ledger and the outbox disagree, in every delivery mode
 * (usage records compared per billing period, meter events per hour). A pair the ledger shows
 * and the product missed, one the product reports that the ledger does not, and a run that
 * failed are each a finding.
 */
function checkProductReconciliation(input: InvariantInput): Finding[] {
  const product = input.productReconciliation;
  if ("error" in product) return [{ subject: "(the run)", detail: product.error }];
  const expected = new Map(
    compareTotals(input.reconciled, input.ledger).map((f) => [f.subject, f.detail]),
  );
  const found = new Map<string, string[]>();
  for (const d of product.drift) {
    const subject = `${d.stripe_customer_id} × ${d.event_name}`;
    const detail = `${d.hour}: Meterline ${d.meterline}, Stripe ${d.stripe}; events ${d.event_ids.join(", ")}`;
    found.set(subject, [...(found.get(subject) ?? []), detail]);
  }
  const out: Finding[] = [];
  for (const [subject, detail] of expected) {
    if (!found.has(subject)) out.push({ subject, detail: `missed: ${detail}` });
  }
  for (const [subject, details] of found) {
    if (!expected.has(subject)) {
      out.push({ subject, detail: `reported, but the ledger agrees: ${details.join("; ")}` });
    }
  }
  return out;
}
