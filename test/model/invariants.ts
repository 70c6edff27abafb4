/**
 * The invariants of design.md §5, checked at the end of a model run from sources the workers do
 * not write — the emulator's ledger and request log — against the model, with the outbox rows
 * as the thing judged. Pure: a list of violations, one line each (empty: all hold).
 *
 * Two checkpoints:
 * - "system": after the final drain (faults off, key restored, webhooks delivered), before any
 *   person acted. Meterline alone must have kept every rule; an event it gave up on safely
 *   (retries exhausted, dedup window expired, usage record unverified, crash loop) may be failed
 *   and, if Stripe may hold it, counted — but only with evidence that the run caused it.
 * - "reconciled": after a person reconciled those dead letters against Stripe (resolve what
 *   Stripe counted, retry what it did not) and the queue drained again: every healthy event is
 *   reported and counted exactly once, and Stripe's totals equal the reported sums.
 */
import type { Ledger } from "../../src/emulator/index.ts";
import {
  behavesHealthy,
  disruptionsSince,
  type Model,
  type ModelEvent,
  virtualAgeMs,
} from "./model.ts";
import type { LoggedRequest } from "./request-log.ts";
import type { EventRow, Snapshot } from "./world.ts";

const HOUR = 3_600_000;
/** Stripe forgets an identifier (and an idempotency key) after this long. */
export const STRIPE_DEDUP_MS = 24 * HOUR;
/** Meterline's dedup window (METERLINE_DEDUP_WINDOW_HOURS). */
export const DEDUP_WINDOW_MS = 23 * HOUR;
/** How long an unlinked customer's event waits (METERLINE_UNLINKED_HOLD_HOURS). */
export const UNLINKED_HOLD_MS = 24 * HOUR;
/** Room for the time a send or a settle takes around a window's edge. */
const SLACK_MS = 60_000;

/** Dead-letter codes of an event Meterline gave up on safely: a person reconciles them. */
export const GAVE_UP = new Set([
  "retries_exhausted",
  "dedup_window_expired",
  "usage_record_unverified",
  "crash_loop",
]);
const STATUSES = new Set(["pending", "reported", "failed", "discarded"]);
/** Ledger reasons that are not Stripe's asynchronous rejections. */
const NOT_ASYNC = new Set(["duplicate_identifier"]);

/** What the checks know beside the snapshot. */
export interface RunFacts {
  model: Model;
  /** Stripe customer id of each customer key (null: unlinked). */
  stripeIdOf: ReadonlyMap<string, string | null>;
  /** The workers' max attempts. */
  maxAttempts: number;
  phase: "system" | "reconciled";
  /** Rejections the error reports counted but did not name (each a loss billing sync cannot see). */
  unnamedRejections: number;
  /** Notifications billing sync never took. */
  undeliveredWebhooks: number;
}

/** Per event: what Stripe holds of it, from the ledger and the request log. */
export interface StripeView {
  /** How many times Stripe counted it (meter events: counted ledger entries; usage records: applied requests). */
  counted: number;
  /** Whether Stripe holds its identifier at all (counted or not). */
  held: boolean;
  /** The asynchronous rejection reason in the ledger, if Stripe rejected it after a 200. */
  asyncReason: string | null;
  /** Requests that carried it, by arrival. */
  requests: LoggedRequest[];
}

export function viewOf(
  e: ModelEvent,
  ledger: Ledger,
  byEvent: Map<string, LoggedRequest[]>,
): StripeView {
  const requests = byEvent.get(e.id) ?? [];
  if (e.mode === "usage_records") {
    const counted = requests.filter((r) => r.group === "usage_records" && r.applied).length;
    return { counted, held: counted > 0, asyncReason: null, requests };
  }
  const entries = ledger.events.filter((x) => x.identifier === e.id);
  const rejected = entries.find((x) => !x.counted && x.reason !== null && !NOT_ASYNC.has(x.reason));
  return {
    counted: entries.filter((x) => x.counted).length,
    held: entries.length > 0,
    asyncReason: rejected?.reason ?? null,
    requests,
  };
}

export function byEventOf(requests: readonly LoggedRequest[]): Map<string, LoggedRequest[]> {
  const out = new Map<string, LoggedRequest[]>();
  for (const r of requests) {
    for (const id of new Set(r.ids)) {
      const list = out.get(id);
      if (list) list.push(r);
      else out.set(id, [r]);
    }
  }
  for (const list of out.values()) list.sort((a, b) => a.atMs - b.atMs);
  return out;
}

/**
 * Why a gave-up code is justified for `e`, or null when nothing in the run explains it (then
 * Meterline gave up on an event for no cause the run made).
 */
function unjustified(
  code: string,
  e: ModelEvent,
  v: StripeView,
  f: RunFacts,
  nowMs: number,
): string | null {
  switch (code) {
    case "retries_exhausted":
      // Every counted attempt is a request that reached Stripe (no SDK retries, no fast-fail).
      return v.requests.length >= f.maxAttempts
        ? null
        : `only ${v.requests.length} request(s) reached Stripe, max attempts is ${f.maxAttempts}`;
    case "dedup_window_expired": {
      const age = virtualAgeMs(f.model, e, nowMs);
      return age >= DEDUP_WINDOW_MS - SLACK_MS
        ? null
        : `only ${(age / HOUR).toFixed(2)} h passed since it was ingested`;
    }
    case "usage_record_unverified":
      return e.mode === "usage_records" && v.requests.some((r) => r.status >= 500)
        ? null
        : "Stripe never answered it with a 5xx";
    case "crash_loop":
      return disruptionsSince(f.model, e) > 0
        ? null
        : "no worker was killed and no lease expired by a jump since it was ingested";
    default:
      return `${code} is not a code of giving up safely`;
  }
}

/** Checks every invariant; returns the violations. */
export function checkRun(s: Snapshot, f: RunFacts): string[] {
  const out: string[] = [];
  const add = (subject: string, detail: string) => out.push(`${subject}: ${detail}`);
  const rowOf = new Map(s.rows.map((r) => [r.id, r]));
  const byEvent = byEventOf(s.requests);
  const ours = new Map(f.model.events.map((e) => [e.id, e]));

  // Stripe's side, whatever the outbox says: each identifier counted at most once, and only
  // identifiers of events the run ingested.
  const countedTimes = new Map<string, number>();
  for (const e of s.ledger.events) {
    if (e.counted) countedTimes.set(e.identifier, (countedTimes.get(e.identifier) ?? 0) + 1);
  }
  for (const [identifier, n] of countedTimes) {
    if (n > 1) add(identifier, `Stripe counted this identifier ${n} times (double count)`);
    if (!ours.has(identifier)) add(identifier, "Stripe counted an identifier no event has");
  }
  checkUsageRecordLedger(s, add);

  for (const e of f.model.events) {
    const row = rowOf.get(e.id);
    if (!row) {
      add(e.id, "the event vanished from the outbox (§5.1)");
      continue;
    }
    const v = viewOf(e, s.ledger, byEvent);
    checkState(e, row, add);
    if (v.counted > 1) add(e.id, `Stripe counted it ${v.counted} times (double count)`);
    // §5.7: reported only if Stripe counted it, or a person resolved it as delivered.
    if (row.status === "reported" && v.counted === 0 && !f.model.resolved.has(e.id)) {
      add(e.id, `reported, but Stripe did not count it (${e.kind}, ${e.mode})`);
    }
    // Nothing counted that is not reported, unless Meterline gave up on it safely.
    if (v.counted > 0 && row.status !== "reported") {
      const excused =
        f.phase === "system" && row.status === "failed" && GAVE_UP.has(row.code ?? "");
      if (!excused) add(e.id, `Stripe counted it, but it is ${describe(row)}`);
    }
    // Stripe's asynchronous rejection wins: failed, never reported.
    if (v.asyncReason !== null && row.status !== "failed") {
      add(e.id, `Stripe rejected it asynchronously (${v.asyncReason}), yet it is ${describe(row)}`);
    }
    // §5.5 and Stripe's 24 h: no send once the first is past the window (by Stripe's clock).
    // After the reconcile step a person may restart the window (retry confirming Stripe does
    // not hold the event), so only the system checkpoint judges it.
    const first = v.requests[0];
    const last = v.requests.at(-1);
    if (f.phase === "system" && first && last) {
      const span = last.atMs - first.atMs;
      if (span >= STRIPE_DEDUP_MS) {
        add(
          e.id,
          `sent ${(span / HOUR).toFixed(2)} h after its first send: Stripe no longer dedups it`,
        );
      } else if (span > DEDUP_WINDOW_MS + SLACK_MS) {
        add(
          e.id,
          `sent ${(span / HOUR).toFixed(2)} h after its first send, past the 23 h window (§5.5)`,
        );
      }
    }
    checkKind(e, row, v, f, s.nowMs, add);
  }

  for (const row of s.rows) {
    if (!ours.has(row.id)) add(row.id, "an outbox row the run never ingested");
  }
  if (f.phase === "reconciled") checkTotals(s, f, add);
  if (f.unnamedRejections > 0) {
    add("error reports", `${f.unnamedRejections} rejection(s) counted but not named`);
  }
  if (f.undeliveredWebhooks > 0) {
    add("billing sync", `${f.undeliveredWebhooks} notification(s) never taken`);
  }
  return out;
}

/** §5.1: one known state, with its reason; §5.3: never failed for the account or a systemic cause. */
function checkState(e: ModelEvent, row: EventRow, add: (s: string, d: string) => void): void {
  if (!STATUSES.has(row.status)) add(e.id, `unknown status "${row.status}"`);
  if (row.status === "pending" && row.waitReason === null) {
    add(e.id, "pending with no visible reason (§5.1)");
  }
  if (row.status === "failed") {
    if (!row.code || !row.message) add(e.id, "failed without a code and a message (§5.1)");
    if (row.httpStatus === 401 || row.httpStatus === 403) {
      add(e.id, `failed on an account-wide ${row.httpStatus} (${row.code}) (§5.3)`);
    }
    if (row.code !== null && /systemic|account|halt/i.test(row.code)) {
      add(e.id, `failed with an account-wide or systemic code ${row.code} (§5.3)`);
    }
  }
}

/** What each kind of event must end as. */
function checkKind(
  e: ModelEvent,
  row: EventRow,
  v: StripeView,
  f: RunFacts,
  nowMs: number,
  add: (s: string, d: string) => void,
): void {
  const gaveUp = (why: string) => {
    const code = row.code ?? "";
    const reason = unjustified(code, e, v, f, nowMs);
    if (reason !== null) add(e.id, `${why} failed as ${code}: ${reason}`);
  };
  if (behavesHealthy(e)) {
    if (row.status === "reported") {
      if (v.counted !== 1 && !f.model.resolved.has(e.id)) {
        add(e.id, `reported, counted ${v.counted} times`);
      }
    } else if (f.phase === "reconciled") {
      add(e.id, `a healthy event is ${describe(row)} after the reconcile`);
    } else if (row.status === "failed" && GAVE_UP.has(row.code ?? "")) {
      gaveUp("a healthy event");
    } else {
      add(e.id, `a healthy event is ${describe(row)} (§5.3: wrongly failed or lost)`);
    }
    return;
  }
  switch (e.kind) {
    case "misfiled":
      // Usage records filed on a wrong item until FixItem; the advice then is: retry, and the
      // retry must work (it goes under a new Idempotency-Key: Stripe stored the 404 under the old).
      if (row.status === "reported") {
        if (v.counted !== 1 && !f.model.resolved.has(e.id)) {
          add(e.id, `reported, counted ${v.counted} times`);
        }
      } else if (f.phase === "reconciled") {
        const how = f.model.retriedAfterFix.has(e.id)
          ? "its item was set right and it was retried"
          : "its item was set right, but the person's retry was refused";
        add(e.id, `${how}, yet it is ${describe(row)}`);
      } else if (row.status === "failed" && row.code === "resource_missing") {
        if (f.model.retriedAfterFix.has(e.id)) {
          add(e.id, "retried after its item was set right, still failed as resource_missing");
        }
      } else if (row.status === "failed" && GAVE_UP.has(row.code ?? "")) {
        gaveUp("a usage record of a misfiled item");
      } else {
        const after = f.model.retriedAfterFix.has(e.id)
          ? ", retried after its item was set right"
          : "";
        add(
          e.id,
          `a usage record on a wrong item is ${describe(row)}${after}; expected reported, or failed as resource_missing until its item is set right and it is retried`,
        );
      }
      return;
    case "ghost": {
      if (v.counted > 0) add(e.id, "Stripe counted an event of a customer it does not know");
      const expected =
        e.mode === "usage_records" ? "resource_missing" : "meter_event_customer_not_found";
      if (row.status !== "failed") {
        add(e.id, `an event of a customer unknown to Stripe is ${describe(row)}, not failed`);
      } else if (row.code !== expected) {
        if (GAVE_UP.has(row.code ?? "")) gaveUp("an event of a customer unknown to Stripe");
        else add(e.id, `failed as ${row.code}, expected ${expected}`);
      }
      return;
    }
    case "deleted":
      if (v.requests.length > 0) add(e.id, "a deleted customer's event was sent to Stripe");
      if (row.status !== "failed" || row.code !== "customer_deleted") {
        add(
          e.id,
          `a deleted customer's event is ${describe(row)}, expected failed customer_deleted`,
        );
      }
      return;
    case "unlinked": {
      if (v.requests.length > 0) add(e.id, "an unlinked customer's event was sent to Stripe");
      const age = virtualAgeMs(f.model, e, nowMs);
      if (Math.abs(age - UNLINKED_HOLD_MS) < SLACK_MS) return; // at the hold's edge: either
      const expired = age >= UNLINKED_HOLD_MS;
      const ok = expired
        ? row.status === "failed" && row.code === "customer_unlinked"
        : row.status === "pending" && row.waitReason === "customer_unlinked";
      if (!ok) {
        const want = expired ? "failed customer_unlinked" : "pending (customer_unlinked)";
        add(e.id, `unlinked for ${(age / HOUR).toFixed(2)} h: ${describe(row)}, expected ${want}`);
      }
      return;
    }
  }
}

/** Usage records: the ledger holds exactly the records the request log says were applied. */
function checkUsageRecordLedger(s: Snapshot, add: (s: string, d: string) => void): void {
  const logged = new Map<string, { n: number; quantity: number }>();
  for (const r of s.requests) {
    if (r.group !== "usage_records" || !r.applied || r.record === null) continue;
    const t = logged.get(r.record.item) ?? { n: 0, quantity: 0 };
    t.n++;
    t.quantity += r.record.quantity;
    logged.set(r.record.item, t);
  }
  const ledger = new Map<string, { n: number; quantity: number }>();
  for (const r of s.ledger.usage_records) {
    const t = ledger.get(r.subscription_item) ?? { n: 0, quantity: 0 };
    t.n++;
    t.quantity += r.quantity;
    ledger.set(r.subscription_item, t);
  }
  for (const item of new Set([...logged.keys(), ...ledger.keys()])) {
    const a = logged.get(item) ?? { n: 0, quantity: 0 };
    const b = ledger.get(item) ?? { n: 0, quantity: 0 };
    if (a.n !== b.n || a.quantity !== b.quantity) {
      add(
        item,
        `request log applied ${a.n} record(s) (${a.quantity}), the ledger holds ${b.n} (${b.quantity})`,
      );
    }
  }
}

/** §5.2: per (customer, meter), what Stripe holds equals the sum of the reported events. */
function checkTotals(s: Snapshot, f: RunFacts, add: (s: string, d: string) => void): void {
  const reported = new Map<string, number>();
  for (const row of s.rows) {
    if (row.status !== "reported") continue;
    const customer = f.stripeIdOf.get(row.customerKey) ?? `(unlinked ${row.customerKey})`;
    const key = JSON.stringify([customer, row.eventName]);
    reported.set(key, (reported.get(key) ?? 0) + row.value);
  }
  const held = new Map<string, number>();
  for (const t of s.ledger.totals) {
    held.set(JSON.stringify([t.customer, t.event_name]), t.value);
  }
  for (const key of new Set([...reported.keys(), ...held.keys()])) {
    const stripe = held.get(key) ?? 0;
    const ours = reported.get(key) ?? 0;
    if (stripe !== ours)
      add(key, `Stripe holds ${stripe}, the reported events sum to ${ours} (§5.2)`);
  }
}

function describe(row: EventRow): string {
  if (row.status === "failed") return `failed (${row.code})`;
  if (row.status === "pending") return `pending (${row.waitReason ?? "no reason"})`;
  return row.status;
}

/**
 * The checks that hold at every moment of a run, not only once it drained: Stripe counts each
 * identifier at most once, a healthy event is reported only once Stripe counted it, and every
 * event is in one known state.
 */
export function checkStep(s: Snapshot, model: Model): string[] {
  const out: string[] = [];
  const byEvent = byEventOf(s.requests);
  const rowOf = new Map(s.rows.map((r) => [r.id, r]));
  const counted = new Map<string, number>();
  for (const e of s.ledger.events) {
    if (e.counted) counted.set(e.identifier, (counted.get(e.identifier) ?? 0) + 1);
  }
  for (const [identifier, n] of counted) {
    if (n > 1) out.push(`${identifier}: Stripe counted this identifier ${n} times (double count)`);
  }
  for (const e of model.events) {
    const row = rowOf.get(e.id);
    if (!row) {
      out.push(`${e.id}: the event vanished from the outbox (§5.1)`);
      continue;
    }
    if (!STATUSES.has(row.status)) out.push(`${e.id}: unknown status "${row.status}"`);
    const v = viewOf(e, s.ledger, byEvent);
    if (v.counted > 1) out.push(`${e.id}: Stripe counted it ${v.counted} times (double count)`);
    if (
      (e.kind === "healthy" || e.kind === "misfiled") &&
      row.status === "reported" &&
      v.counted === 0
    ) {
      out.push(`${e.id}: reported, but Stripe did not count it (${e.mode})`);
    }
  }
  return out;
}
