/**
 * The checks that compare Stripe (the emulator's ledger, and its request log for usage records)
 * with the outbox: per event, per customer × meter, and the attempt rows against each other
 * (the settle guard). Pure.
 */

import type { DeliveryMode } from "../../src/db/schema/meters.ts";
import type { Ledger } from "../../src/emulator/index.ts";
import { identifierFor } from "../../src/reporter/identifier.ts";
import { bump, type Finding } from "./findings.ts";
import { usageRecordsApplied } from "./log-checks.ts";
import type { LoggedRequest } from "./request-log.ts";

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
}

/**
 * What Stripe holds, per event: meter events by identifier (the ledger's counted events),
 * usage records by the event their Idempotency-Key names (applied requests in the log, which
 * `unexplainedRecords` checks against the ledger's records).
 */
export class StripeCounts {
  private readonly counted = new Map<string, number>();
  private readonly uncounted = new Map<string, string>();
  private readonly records: Map<string, number>;

  constructor(ledger: Pick<Ledger, "events">, requests: readonly LoggedRequest[]) {
    for (const e of ledger.events) {
      if (e.counted) bump(this.counted, e.identifier);
      else if (e.reason && e.reason !== "duplicate_identifier")
        this.uncounted.set(e.identifier, e.reason);
    }
    this.records = usageRecordsApplied(requests);
  }

  /** How many times Stripe counts the event with this id, sent in `mode`. */
  count(id: string, mode: DeliveryMode): number {
    if (mode === "usage_records") return this.records.get(id) ?? 0;
    return this.counted.get(identifierFor(id)) ?? 0;
  }

  /** Why Stripe accepted it but did not count it (an asynchronous rejection), if it did. */
  notCountedBecause(id: string, mode: DeliveryMode): string | null {
    if (mode === "usage_records") return null;
    return this.uncounted.get(identifierFor(id)) ?? null;
  }

  /** Every id Stripe counts, with its mode: the meter events' identifiers and the records' events. */
  *all(): Generator<{ id: string; mode: "meter" | "usage_records"; n: number }> {
    for (const [id, n] of this.counted) yield { id, mode: "meter", n };
    for (const [id, n] of this.records) yield { id, mode: "usage_records", n };
  }
}

/** The three per-event comparisons of Stripe and the outbox. */
export interface CountFindings {
  /** Stripe counts it more than once. */
  countedMoreThanOnce: Finding[];
  /** The outbox says reported; Stripe does not count it. */
  reportedNotCounted: Finding[];
  /** Stripe counts it; the outbox does not say reported (or does not know it). */
  countedNotReported: Finding[];
}

/**
 * Per event: Stripe counts every reported event exactly once, and nothing else. `resolved`
 * marks the events a person resolved as delivered (reported without a Meterline delivery).
 */
export function compareCounts(
  rows: readonly OutboxRow[],
  stripe: StripeCounts,
  modeOf: (eventName: string) => DeliveryMode | null,
  resolved: ReadonlySet<string>,
): CountFindings {
  const out: CountFindings = {
    countedMoreThanOnce: [],
    reportedNotCounted: [],
    countedNotReported: [],
  };
  const known = new Set<string>();
  for (const row of rows) {
    const mode = modeOf(row.eventName);
    if (mode === null) continue;
    known.add(mode === "usage_records" ? `records:${row.id}` : `meter:${identifierFor(row.id)}`);
    const n = stripe.count(row.id, mode);
    const how = resolved.has(row.id) ? " (resolved as delivered by the operator)" : "";
    if (n > 1) {
      out.countedMoreThanOnce.push({
        subject: row.id,
        detail: `Stripe counts it ${n} times (${mode})`,
      });
    }
    if (row.status === "reported" && n === 0) {
      const why = stripe.notCountedBecause(row.id, mode);
      out.reportedNotCounted.push({
        subject: row.id,
        detail: `reported${how}, but Stripe ${why ? `accepted it and did not count it (${why})` : "does not hold it"}`,
      });
    }
    if (n > 0 && row.status !== "reported" && row.status !== "pending") {
      out.countedNotReported.push({
        subject: row.id,
        detail: `Stripe counts it, but it is ${row.status} (${row.lastErrorCode ?? "no code"})`,
      });
    }
  }
  for (const { id, mode } of stripe.all()) {
    if (known.has(`${mode === "meter" ? "meter" : "records"}:${id}`)) continue;
    out.countedNotReported.push({
      subject: id,
      detail: `Stripe counts it (${mode}); the outbox has no such event`,
    });
  }
  return out;
}

/** Per (customer, meter): Stripe's total equals the sum of the reported events. */
export function compareTotals(
  rows: readonly OutboxRow[],
  ledger: Pick<Ledger, "totals">,
): Finding[] {
  const reported = new Map<string, number>();
  for (const r of rows) {
    if (r.status !== "reported") continue;
    const key = pairKey(r.stripeCustomerId ?? `(no Stripe id: ${r.customerKey})`, r.eventName);
    reported.set(key, (reported.get(key) ?? 0) + r.value);
  }
  const held = new Map(ledger.totals.map((t) => [pairKey(t.customer, t.event_name), t.value]));
  const findings: Finding[] = [];
  for (const key of new Set([...reported.keys(), ...held.keys()])) {
    const stripe = held.get(key) ?? 0;
    const ours = reported.get(key) ?? 0;
    if (stripe === ours) continue;
    const [customer, meter] = JSON.parse(key) as [string, string];
    const how = stripe > ours ? "over: double count" : "under: loss";
    findings.push({
      subject: `${customer} × ${meter}`,
      detail: `Stripe holds ${stripe}, reported events sum to ${ours} (${how})`,
    });
  }
  return findings;
}

// A JSON pair, so no customer id or event name can collide through a separator.
function pairKey(customer: string, eventName: string): string {
  return JSON.stringify([customer, eventName]);
}

/** An attempt row whose outcome was written (every outcome but lease_lost). */
export interface AppliedAttempt {
  eventId: string;
  worker: string;
  outcome: string;
  /** When the send (or the pre-flight decision) started, by the worker's estimate of the database clock. */
  startedAtMs: number;
  /** When the settle statement ran, by the database clock. */
  finishedAtMs: number;
}

/**
 * How far apart two attempts' times must be to count as overlapping: started_at is the
 * worker's estimate of the database clock, off by up to half the round trip of the claim it
 * was read from (reporter/db-clock.ts: a long one is not read), while a real stale settle comes
 * seconds (a lease) after another worker took the event over.
 */
const OVERLAP_MARGIN_MS = 1_000;

/** Outcomes written by others than a sending worker: billing sync, operators, reverts. */
const NOT_A_SEND = new Set([
  "async_rejected",
  "operator_resolved",
  "systemic_reverted",
  "worker_lost",
]);

/**
 * The settle guard (design.md §4): a worker that lost its lease cannot overwrite a newer
 * outcome. With the guard, an event's written outcomes come strictly one after another: each
 * was settled while its claim was the current one, so before the next claim, so before the
 * next send began. An outcome written after another worker had begun sending the same event
 * (well after this attempt began) can only be a stale settle that the guard let through.
 */
export function overlappingSettles(applied: readonly AppliedAttempt[]): Finding[] {
  const byEvent = new Map<string, AppliedAttempt[]>();
  for (const a of applied) {
    if (NOT_A_SEND.has(a.outcome)) continue;
    const list = byEvent.get(a.eventId);
    if (list) list.push(a);
    else byEvent.set(a.eventId, [a]);
  }
  const findings: Finding[] = [];
  for (const [eventId, attempts] of byEvent) {
    for (const stale of attempts) {
      const newer = attempts.find(
        (b) =>
          b.startedAtMs > stale.startedAtMs + OVERLAP_MARGIN_MS &&
          b.startedAtMs < stale.finishedAtMs - OVERLAP_MARGIN_MS,
      );
      if (!newer) continue;
      findings.push({
        subject: eventId,
        detail: `${stale.worker} wrote "${stale.outcome}" ${Math.round(stale.finishedAtMs - newer.startedAtMs)} ms after ${newer.worker} had begun sending the event again ("${newer.outcome}")`,
      });
      break;
    }
  }
  return findings;
}
