/**
 * The checks that compare two sources: the ledger against the outbox (per identifier, per
 * customer × meter), and the attempt rows against each other (the settle guard). Pure.
 */
import type { Ledger } from "../../src/emulator/index.ts";
import { identifierFor } from "../../src/reporter/identifier.ts";
import type { Finding, OutboxRow } from "./invariants.ts";

type LedgerView = Pick<Ledger, "totals" | "events">;

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
 * worker's estimate of the database clock, off by up to a claim's round trip, while a real
 * stale settle comes seconds (a lease) after another worker took the event over.
 */
const OVERLAP_MARGIN_MS = 1_000;

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

/** Per identifier: Stripe counts each reported event once, and nothing else. */
export function compareIdentifiers(
  rows: readonly OutboxRow[],
  ledger: LedgerView,
): { doubleCounted: Finding[]; missing: Finding[] } {
  const counted = new Map<string, number>();
  for (const e of ledger.events) if (e.counted) bump(counted, e.identifier);
  const byIdentifier = new Map(rows.map((r) => [identifierFor(r.id), r]));
  const doubleCounted: Finding[] = [];
  for (const [identifier, n] of counted) {
    const row = byIdentifier.get(identifier);
    if (n > 1) doubleCounted.push({ subject: identifier, detail: `counted ${n} times by Stripe` });
    if (!row) {
      doubleCounted.push({
        subject: identifier,
        detail: "counted by Stripe, unknown to the outbox",
      });
    } else if (row.status !== "reported" && row.status !== "pending") {
      doubleCounted.push({ subject: row.id, detail: `counted by Stripe but ${row.status}` });
    }
    // Counted but still pending: an ambiguous attempt awaiting its resend (a run cut short).
    // Not a double count; the pending row is already reported as lost.
  }
  const missing: Finding[] = [];
  for (const row of rows) {
    if (row.status === "reported" && !counted.has(identifierFor(row.id))) {
      missing.push({ subject: row.id, detail: "reported, but Stripe does not count it" });
    }
  }
  return { doubleCounted, missing };
}

/** Per (customer, meter): Stripe's total equals the sum of the reported events. */
export function compareTotals(rows: readonly OutboxRow[], ledger: LedgerView): Finding[] {
  const counted = new Set(ledger.events.filter((e) => e.counted).map((e) => e.identifier));
  const reported = new Map<string, number>();
  for (const r of rows) {
    // A pending event Stripe already counted (a run cut short) is set against its total too:
    // what is over then is a true double count. After a drained run nothing is pending.
    const inDoubt = r.status === "pending" && counted.has(identifierFor(r.id));
    if (r.status !== "reported" && !inDoubt) continue;
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

/** Adds one to `key`'s count. */
export function bump(counts: Record<string, number> | Map<string, number>, key: string): void {
  if (counts instanceof Map) counts.set(key, (counts.get(key) ?? 0) + 1);
  else counts[key] = (counts[key] ?? 0) + 1;
}
