import type { Db } from "../db/connect.ts";
import { periodUsage } from "../outbox/period-usage.ts";
import type { SendItem } from "./admit.ts";
import type { Outcome } from "./classify.ts";
import type { PeriodTotal } from "./sinks/port.ts";

/** What Stripe's totals say about a usage record whose 5xx was stored under its key. */
export type StoredVerdict =
  /** Stripe's total includes it: it was applied before the 5xx. */
  | { kind: "applied"; figures: string }
  /** Stripe's total lacks it: resend under a new key. */
  | { kind: "not_applied"; figures: string }
  /** The totals do not single it out (other events unsettled, or a total that fits neither). */
  | { kind: "unknown"; figures: string }
  /** Stripe's totals could not be read: retry, and ask again on the next stored 5xx. */
  | { kind: "unreachable" }
  /** Something of the pair was sent or settled during the reads: retry, and ask again. */
  | { kind: "moved"; figures: string }
  /** Stripe has no such subscription item: nothing can be filed there (customer scope). */
  | { kind: "item_gone"; message: string };

/** Most uncertain neighbours whose subsets are weighed; with more, only the sure rules decide. */
export const MAX_WEIGHED = 24;

/** Most distinct partial sums kept while weighing (bounds the work on large, varied values). */
const MAX_SUMS = 65_536;

/**
 * Every sum up to `limit` that some subset of `values` adds up to (the empty one: 0), or null
 * when there are more than MAX_SUMS of them. Pure.
 */
export function subsetSums(values: readonly number[], limit: number): Set<number> | null {
  let sums = new Set([0]);
  for (const v of values) {
    const next = new Set(sums);
    for (const s of sums) if (s + v <= limit) next.add(s + v);
    if (next.size > MAX_SUMS) return null;
    sums = next;
  }
  return sums;
}

/**
 * Decides from the figures alone. Pure. Stripe's total holds everything reported (read before
 * it), this record or not, some of the uncertain neighbours (each whole or not at all), and
 * nothing else. So with d = Stripe's total − Meterline's reported sum:
 * - d < value: this record is not in the total (not applied). It is the only way to "not
 *   applied", the verdict that resends under a new key: usage someone else filed on the item
 *   only raises d, so it can never make an applied record look unapplied.
 * - some subset of the uncertain neighbours makes up d − value and none makes up d: only with
 *   this record can the total be explained (applied). With no uncertain neighbour that is
 *   d = value; with all of them applied, d = value + their sum.
 * Anything else cannot single this event out.
 */
export function judgeStored(f: {
  total: number;
  reported: number;
  uncertainValues: readonly number[];
  value: number;
}): Exclude<StoredVerdict, { kind: "unreachable" | "item_gone" | "moved" }> {
  const uncertain = f.uncertainValues.length;
  const worth = f.uncertainValues.reduce((a, b) => a + b, 0);
  const figures =
    `Stripe's total for the period is ${f.total}; Meterline reported ${f.reported} in it before ` +
    `this event (value ${f.value})` +
    (uncertain > 0
      ? `, and ${uncertain} other sent event(s) of the period, worth ${worth} (${f.uncertainValues.slice(0, 10).join(", ")}${uncertain > 10 ? ", …" : ""}), are not known to be applied or not`
      : "");
  const d = f.total - f.reported;
  // A value of 0 changes no total: there is nothing to tell apart, and nothing to double count.
  if (f.value === 0 || d === f.value + worth) return { kind: "applied", figures };
  if (d < f.value) return { kind: "not_applied", figures };
  const sums = uncertain <= MAX_WEIGHED ? subsetSums(f.uncertainValues, d) : null;
  if (sums?.has(d - f.value) && !sums.has(d)) return { kind: "applied", figures };
  return { kind: "unknown", figures };
}

/**
 * Asks Stripe's totals about a stored 5xx. Meterline's side is read BEFORE the total it is
 * compared with: whatever is reported then was applied before Stripe's total is read, so the
 * total holds all of it, and "not applied" (the verdict that resends under a new key) can never
 * come from a neighbour settled between the two reads. Read the other way round, a neighbour
 * reported in between by another worker (one request per pair at a time is the rule, not a
 * certainty across workers: this one may have been frozen past its lease) lowered Stripe's
 * share by its value, an applied record read as unapplied, and its resend counted it twice.
 * Then Meterline's side is read again: if any event of the pair was sent or settled meanwhile,
 * the total may hold a send the first read did not know of, so nothing is decided ("moved":
 * retry, and ask again on the next stored 5xx).
 * `flush` writes the caller's own earlier settlements first, so fewer of them read as uncertain.
 */
export async function verifyStored(
  db: Db,
  item: SendItem,
  flush: () => Promise<void>,
): Promise<StoredVerdict> {
  if (!item.sink.periodTotal) return { kind: "unreachable" };
  await flush();
  // Which period holds the event: only Stripe knows. This read's total is not used.
  const period = await readTotal(item);
  if ("kind" in period) return period;
  const query = {
    customerKey: item.event.customerKey,
    eventName: item.event.eventName,
    start: period.start,
    end: period.end,
    excludeId: item.event.id,
  };
  const mine = await periodUsage(db, query);
  const now = await readTotal(item);
  if ("kind" in now) return now;
  if (
    now.start.getTime() !== period.start.getTime() ||
    now.end.getTime() !== period.end.getTime()
  ) {
    return { kind: "moved", figures: "the billing period changed while Stripe's totals were read" };
  }
  const after = await periodUsage(db, query);
  if (after.moves !== mine.moves) {
    return {
      kind: "moved",
      figures: `another event of this customer and meter was sent or settled while Stripe's totals were read (reported ${mine.reported} → ${after.reported}, uncertain ${mine.uncertain} → ${after.uncertain})`,
    };
  }
  return judgeStored({
    total: now.total,
    reported: mine.reported,
    uncertainValues: mine.uncertainValues,
    value: item.event.value,
  });
}

/** One read of Stripe's total for the event's period, or the verdict a failed read ends in. */
async function readTotal(
  item: SendItem,
): Promise<PeriodTotal | Extract<StoredVerdict, { kind: "unreachable" | "item_gone" }>> {
  const period = (await item.sink.periodTotal?.(item.outbound)) ?? null;
  if (period === null) return { kind: "unreachable" };
  if ("missing" in period) return { kind: "item_gone", message: period.missing };
  return period;
}

/** The outcome a stored 5xx turns into once verified. Pure. */
export function resolveStored(
  outcome: Extract<Outcome, { kind: "verify" }>,
  v: StoredVerdict,
): Outcome {
  const { answer } = outcome;
  switch (v.kind) {
    case "applied":
      return {
        kind: "delivered",
        duplicate: false,
        rule: `${outcome.rule}; Stripe's totals show it applied`,
        answer,
      };
    case "not_applied":
      return {
        kind: "retry",
        ambiguous: false,
        newKey: true,
        rule: `${outcome.rule}; Stripe's totals show it was not applied: resend under a new key`,
        answer,
      };
    case "unknown":
      return {
        kind: "unverified",
        rule: `${outcome.rule}; Stripe's totals cannot tell`,
        answer,
        figures: v.figures,
      };
    case "unreachable":
      return {
        kind: "retry",
        ambiguous: true,
        rule: `${outcome.rule}; Stripe's totals unavailable`,
        answer,
      };
    case "moved":
      return {
        kind: "retry",
        ambiguous: true,
        rule: `${outcome.rule}; not judged: ${v.figures}`,
        answer,
      };
    case "item_gone":
      // Stripe says the item does not exist: as if the send had been answered 404.
      return {
        kind: "rejected",
        scope: "customer",
        rule: `${outcome.rule}; the subscription item is gone`,
        answer: { ...answer, httpStatus: 404, code: "resource_missing", message: v.message },
      };
  }
}
