import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import { deliveredSinceMet } from "../outbox/systemic-evidence.ts";
import type { SendItem } from "./admit.ts";
import { sendThrough } from "./batch-send.ts";
import type { Outcome } from "./classify.ts";
import type { HeldLeases } from "./held-leases.ts";
import type { Judge, Verdict } from "./judge.ts";
import type { ReporterLogger } from "./logger.ts";
import type { ReporterMetrics } from "./reporter-metrics.ts";
import type { SentMarker } from "./sent-marker.ts";
import type { SettleBuffer } from "./settle-buffer.ts";
import { rejectionCode } from "./systemic-detector.ts";
import { resolveStored, verifyStored } from "./verify-stored.ts";

/** What one request needs from its worker. */
export interface RequestContext {
  db: Db;
  judge: Judge;
  /** The settler: every event's outcome goes through it. */
  buffer: SettleBuffer;
  marker: SentMarker;
  held: HeldLeases;
  logger: ReporterLogger;
  /** The worker's clock (the database's, as the leases judge time). */
  now(): Date;
  /** True once stop() spent its budget: answers that still arrive are not written. */
  abandoned(): boolean;
  /** Counts each request's answer and latency. */
  metrics: ReporterMetrics;
  /** The circuit this worker obeys, if any: a probe meeting its cause again keeps it open. */
  haltedScope(): string | null;
  /** Gives leases back unsent (no attempt counted). */
  giveBack(items: SendItem[]): Promise<void>;
}

/**
 * One request to Stripe (one event, or a stream batch), from the last checks to the settle rows:
 * refuse without a call what must not be sent; record the first send BEFORE the request leaves;
 * send; verify a 5xx stored under an idempotency key against Stripe's totals; judge the answer
 * once for the whole request; queue one settle row per event. Returns the request's verdict (the
 * circuit reactor acts on it), or null when nothing was sent or the answer was abandoned.
 * Never throws.
 */
export async function runRequest(ctx: RequestContext, items: SendItem[]): Promise<Verdict | null> {
  const { judge, buffer } = ctx;
  const startedAt = ctx.now();
  // Refused without a call: past the dedup window, or a customer Stripe said is gone.
  const checked = items.filter((item) => {
    const row = judge.before(item, startedAt);
    if (row) buffer.push(row);
    return row === null;
  });
  const live = await markFirstSend(ctx, checked);
  if (live.length === 0) return null;
  // Stripe answers the request as a whole: its one result holds for every event in it.
  const sentAt = performance.now();
  const result = await sendThrough(live);
  const [first] = live;
  if (first) ctx.metrics.request(first.sink.mode, result, (performance.now() - sentAt) / 1000);
  // Past the shutdown budget: the lease expires and another worker resends (identifier).
  if (ctx.abandoned()) return null;
  // A 5xx stored under an idempotency key is judged by Stripe's totals, with the pair still in
  // flight (so this worker sends nothing else of it meanwhile; another worker's moves are
  // caught by verifyStored's second look).
  const classified = judge.classify(live, result);
  const [only] = live;
  const stored =
    only && live.length === 1 && classified.kind === "verify"
      ? await verifyStored(ctx.db, only, () => buffer.flush())
      : undefined;
  if (stored && only) {
    ctx.metrics.verified(stored.kind);
    // An inferred billing decision: keep the figures it was made from.
    ctx.logger.info(
      {
        event: only.event.id,
        verdict: stored.kind,
        ...("figures" in stored ? { figures: stored.figures } : {}),
      },
      "usage record verified against Stripe's totals",
    );
  }
  // What Stripe's totals said decides a stored 5xx, for the rejection's history as for the
  // judge: an item found gone is a 404 like any other, and events that met it before the account
  // delivered for others are their own (metBefore), not a reason to halt again.
  const outcome =
    stored && classified.kind === "verify" ? resolveStored(classified, stored) : classified;
  const deliveredSinceMet = await metBefore(ctx, live, outcome);
  if (ctx.abandoned()) return null;
  const verdict = judge.request(live, outcome, ctx.now(), {
    haltedScope: ctx.haltedScope(),
    deliveredSinceMet,
  });
  live.forEach((item, i) => {
    const settlement = verdict.settlements[i];
    if (!settlement) return;
    buffer.push(judge.row(item, settlement, startedAt));
    if (settlement.status === "failed") {
      ctx.logger.warn(
        { event: item.event.id, code: settlement.code, rule: verdict.outcome.rule },
        "dead-lettered",
      );
    }
  });
  return verdict;
}

/**
 * Writes first_sent_at of the events never sent before, BEFORE their request leaves: from then
 * on Stripe may hold them, whatever becomes of the answer. Returns the events that may be sent:
 * one whose lease was lost meanwhile is another worker's now, and is dropped.
 */
async function markFirstSend(ctx: RequestContext, items: SendItem[]): Promise<SendItem[]> {
  const first = items.filter((i) => i.event.firstSentAt === null);
  if (first.length === 0) return items;
  let marked: Map<string, Date>;
  try {
    marked = await ctx.marker.mark(first.map((i) => i.event));
  } catch (err) {
    // Not recorded, so not sent: give the leases back; nothing happened to the events.
    ctx.logger.error({ err: coerceError(err), events: items.length }, "could not record sends");
    await ctx.giveBack(items);
    return [];
  }
  return items.filter((item) => {
    if (item.event.firstSentAt !== null) return true;
    const at = marked.get(item.event.id);
    if (at) item.event.firstSentAt = at;
    else ctx.held.forget(item.event);
    return at !== undefined;
  });
}

/**
 * Events that waited behind a systemic circuit (taken back, or held by it) and are rejected
 * again: whether Stripe delivered other customers' events since they last met the code
 * (outbox/systemic-evidence.ts), for the judge to weigh (judge.ts: out of that circuit only).
 * Asked only then: a first rejection has no history. When the read fails, false: the detector
 * judges as it would have.
 */
async function metBefore(
  ctx: RequestContext,
  items: SendItem[],
  outcome: Outcome,
): Promise<boolean> {
  if (outcome.kind !== "rejected") return false;
  if (!items.every((i) => i.event.waitReason === "systemic_halt")) return false;
  const code = rejectionCode(outcome);
  try {
    return await deliveredSinceMet(ctx.db, {
      ids: items.map((i) => i.event.id),
      code,
      customerKeys: [...new Set(items.map((i) => i.event.customerKey))],
    });
  } catch (err) {
    ctx.logger.error({ err: coerceError(err), code }, "could not read the rejection's history");
    return false;
  }
}
