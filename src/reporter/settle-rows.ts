import type { ClaimedEvent } from "../outbox/claim.ts";
import type { RecordedError, SettleRow } from "../outbox/settle.ts";
import type { Answer } from "./classify.ts";
import { describeAnswer, type Settlement } from "./decide.ts";
import type { Preflight } from "./preflight.ts";

type Guard = Pick<ClaimedEvent, "id" | "attempts" | "claims">;

/**
 * The settle row for an attempt that reached Stripe (or failed to), from decide()'s verdict.
 * Built as one literal of one shape (no spreads): a stream request makes a hundred at a time.
 */
export function rowFromSettlement(event: Guard, s: Settlement, startedAt: Date): SettleRow {
  const answer = s.answer;
  const row: SettleRow = {
    id: event.id,
    attempts: event.attempts,
    claims: event.claims,
    status: s.status,
    counted: s.counted,
    delayMs: s.status === "pending" ? s.delayMs : 0,
    waitReason: s.status === "pending" ? s.waitReason : null,
    error:
      s.status === "failed"
        ? {
            code: s.code,
            message: s.message,
            httpStatus: answer?.httpStatus ?? null,
            requestId: answer?.requestId ?? null,
          }
        : s.status === "pending" && answer
          ? errorOf(answer)
          : null,
    stripeRequestId: s.status === "reported" ? (answer?.requestId ?? null) : null,
    firstAmbiguousAt: s.firstAmbiguousAt,
    sentAt: startedAt,
    attempt: {
      outcome: s.attemptOutcome,
      httpStatus: answer?.httpStatus ?? null,
      stripeCode: answer?.code ?? null,
      requestId: answer?.requestId ?? null,
      message: s.status === "failed" ? s.message : (answer?.message ?? null),
      startedAt,
    },
  };
  if (s.newKey) row.newKey = true;
  return row;
}

/** The settle row for a pre-flight verdict that is not "send": no Stripe call was made. */
export function rowFromPreflight(
  event: Guard & Pick<ClaimedEvent, "firstAmbiguousAt" | "waitReason">,
  verdict: Exclude<Preflight, { kind: "send" }>,
  now: Date,
): SettleRow {
  const base = {
    id: event.id,
    attempts: event.attempts,
    claims: event.claims,
    counted: false,
    firstAmbiguousAt: event.firstAmbiguousAt,
    sentAt: null,
    stripeRequestId: null,
  };
  const attempt = {
    httpStatus: null,
    stripeCode: null,
    requestId: null,
    message: verdict.message,
    startedAt: now,
  };
  if (verdict.kind === "fail") {
    return {
      ...base,
      status: "failed",
      delayMs: 0,
      waitReason: null,
      error: { code: verdict.code, message: verdict.message, httpStatus: null, requestId: null },
      attempt: { ...attempt, outcome: "preflight_failed" },
    };
  }
  return {
    ...base,
    status: "pending",
    delayMs: Math.max(0, verdict.until.getTime() - now.getTime()),
    waitReason: verdict.reason,
    // A wait is no error: the last one (if any) stays visible.
    error: null,
    // Rechecked and still waiting for the same reason: the trail already says so. Without this,
    // an unlinked customer's events would add a row per recheck for up to the hold limit.
    attempt: event.waitReason === verdict.reason ? null : { ...attempt, outcome: "waiting" },
  };
}

function errorOf(a: Answer): RecordedError {
  return {
    code: a.code ?? (a.httpStatus === null ? "no_response" : `http_${a.httpStatus}`),
    message: describeAnswer(a),
    httpStatus: a.httpStatus,
    requestId: a.requestId,
  };
}

/**
 * The settle row that dead-letters an event as crash_loop: its last `openClaims` claims all
 * ended with the worker gone before any outcome, so it is presumably what kills workers.
 * Written in the claim path, before pre-flight or a send can run it again.
 */
export function rowForCrashLoop(
  event: Guard & Pick<ClaimedEvent, "firstAmbiguousAt">,
  openClaims: number,
  now: Date,
): SettleRow {
  const message =
    `claimed ${openClaims} times in a row by workers that stopped (crashed, were killed or lost ` +
    "their lease) before writing any outcome: this event probably crashes its worker, so it was " +
    "set aside to protect the others. Look at the worker logs around its id; once the cause is " +
    "fixed, retry it (it may have reached Stripe: the identifier makes a resend safe within 24 h).";
  return {
    id: event.id,
    attempts: event.attempts,
    claims: event.claims,
    status: "failed",
    counted: false,
    delayMs: 0,
    waitReason: null,
    error: { code: "crash_loop", message, httpStatus: null, requestId: null },
    stripeRequestId: null,
    firstAmbiguousAt: event.firstAmbiguousAt,
    sentAt: null,
    attempt: {
      outcome: "crash_loop",
      httpStatus: null,
      stripeCode: null,
      requestId: null,
      message,
      startedAt: now,
    },
  };
}
