import type { Db } from "../db/connect.ts";
import { periodUsage } from "../outbox/period-usage.ts";
import type { SendItem } from "./admit.ts";
import type { Outcome } from "./classify.ts";

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
  /** Stripe has no such subscription item: nothing can be filed there (customer scope). */
  | { kind: "item_gone"; message: string };

/**
 * Decides from the figures alone. Pure. Values are ≥ 0, so with d = Stripe's total − Meterline's
 * reported sum: d < value means this record is not in Stripe's total (not applied); d = value +
 * every uncertain neighbour's value means all of them are (applied); with no uncertain neighbour,
 * d = value means applied. Anything else cannot single this event out.
 */
export function judgeStored(f: {
  total: number;
  reported: number;
  uncertain: number;
  uncertainValue: number;
  value: number;
}): Exclude<StoredVerdict, { kind: "unreachable" | "item_gone" }> {
  const figures =
    `Stripe's total for the period is ${f.total}; Meterline reported ${f.reported} in it before ` +
    `this event (value ${f.value})` +
    (f.uncertain > 0
      ? `, and ${f.uncertain} other sent event(s) of the period, worth ${f.uncertainValue}, are not known to be applied or not`
      : "");
  const d = f.total - f.reported;
  // A value of 0 changes no total: there is nothing to tell apart, and nothing to double count.
  if (f.value === 0 || d === f.value + f.uncertainValue) return { kind: "applied", figures };
  if (d < f.value) return { kind: "not_applied", figures };
  return { kind: "unknown", figures };
}

/**
 * Asks Stripe's totals about a stored 5xx. The caller keeps the (customer, meter) pair still
 * meanwhile (its delivery queue sends one request per pair at a time, across workers) and has
 * written its earlier settlements (`flush`), so Meterline's reported sum is complete.
 */
export async function verifyStored(
  db: Db,
  item: SendItem,
  flush: () => Promise<void>,
): Promise<StoredVerdict> {
  const read = item.sink.periodTotal;
  if (!read) return { kind: "unreachable" };
  await flush();
  const period = await read(item.outbound);
  if (period === null) return { kind: "unreachable" };
  if ("missing" in period) return { kind: "item_gone", message: period.missing };
  const mine = await periodUsage(db, {
    customerKey: item.event.customerKey,
    eventName: item.event.eventName,
    start: period.start,
    end: period.end,
    excludeId: item.event.id,
  });
  return judgeStored({ total: period.total, ...mine, value: item.event.value });
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
