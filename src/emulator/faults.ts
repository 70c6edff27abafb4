import { z } from "zod";

/**
 * Fault injection settings. The global settings apply to the usage endpoints (v1 meter events,
 * the v2 stream, legacy usage records); each endpoint group can override them
 * (`endpoint-faults.ts`).
 */
export interface Faults {
  /** Base latency added before answering, in milliseconds. */
  latencyMs: number;
  /** Uniform jitter around `latencyMs` (± this many milliseconds). */
  latencyJitterMs: number;
  /** Probability (0..1) of a 500 with nothing applied. */
  p500: number;
  /** Probability (0..1) of applying the event and then failing (500 or a dropped socket). */
  pAmbiguous: number;
  /** Probability (0..1) of a 429 rate_limit with nothing applied. */
  p429: number;
  /** Probability (0..1) of a 429 lock_timeout (Stripe-Should-Retry: true), nothing applied. */
  pLockTimeout: number;
  /** Probability (0..1) of applying the request, then never answering until the client gives up. */
  pTimeout: number;
}

/** A source of uniform numbers in [0, 1), injectable so decisions replay in tests. */
export type Random = () => number;

/** No latency, no failures: the default. */
export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  latencyJitterMs: 0,
  p500: 0,
  pAmbiguous: 0,
  p429: 0,
  pLockTimeout: 0,
  pTimeout: 0,
});

const ms = z.number().finite().min(0, "must be ≥ 0");
const probability = z.number().min(0, "must be from 0 to 1").max(1, "must be from 0 to 1");

/** Validates a partial fault update (admin endpoint, options, setFaults); unknown fields are errors. */
export const faultsPatchSchema = z
  .object({
    latencyMs: ms.optional(),
    latencyJitterMs: ms.optional(),
    p500: probability.optional(),
    pAmbiguous: probability.optional(),
    p429: probability.optional(),
    pLockTimeout: probability.optional(),
    pTimeout: probability.optional(),
  })
  .strict();

/** Merge a validated patch into the current faults; throws a ZodError on a bad value. */
export function mergeFaults(current: Faults, patch: unknown): Faults {
  const parsed = faultsPatchSchema.parse(patch);
  const next: Faults = { ...current };
  // Copy only the fields that were given, so `{p500: 1}` leaves latency alone.
  for (const key of Object.keys(parsed) as Array<keyof Faults>) {
    const value = parsed[key];
    if (value !== undefined) next[key] = value;
  }
  return next;
}

/** What to do to one usage request. */
export type FaultOutcome =
  /** Serve it normally. */
  | "none"
  /** 429 rate_limit, nothing applied. */
  | "rate_limit"
  /** 429 lock_timeout, nothing applied. */
  | "lock_timeout"
  /** 500 api_error, nothing applied. */
  | "error_500"
  /** Apply it, then answer 500: the client cannot know it was applied. */
  | "ambiguous_500"
  /** Apply it, then destroy the socket without answering. */
  | "ambiguous_drop"
  /** Apply it, then hold the connection unanswered until the client gives up. */
  | "timeout";

/** The fault decision for one request: how long to wait, then what to do. */
export interface FaultDecision {
  /** Milliseconds to wait before doing anything (≥ 0, whole). */
  delayMs: number;
  /** What happens after the wait. */
  outcome: FaultOutcome;
}

/**
 * Decide the fault for one request. Pure: the result depends only on `faults` and the three
 * numbers drawn from `random`, always drawn in the same order (latency, outcome, ambiguous
 * kind), so a seeded source replays a run exactly.
 *
 * One uniform draw picks the outcome from cumulative bands — 429, lock timeout, 500,
 * ambiguous, timeout — so when the probabilities sum to ≤ 1 each outcome occurs with exactly
 * its probability, and when they sum to more the earlier bands win (429 first: Stripe
 * rate-limits before anything).
 */
export function decideFault(faults: Faults, random: Random): FaultDecision {
  const jitter = (2 * random() - 1) * faults.latencyJitterMs;
  const delayMs = Math.max(0, Math.round(faults.latencyMs + jitter));
  const u = random();
  const kind = random();
  let outcome: FaultOutcome = "none";
  let edge = faults.p429;
  if (u < edge) return { delayMs, outcome: "rate_limit" };
  edge += faults.pLockTimeout;
  if (u < edge) return { delayMs, outcome: "lock_timeout" };
  edge += faults.p500;
  if (u < edge) return { delayMs, outcome: "error_500" };
  edge += faults.pAmbiguous;
  if (u < edge) {
    // Half the ambiguous failures never answer: a client must treat a lost connection
    // exactly like a 500 after the fact.
    outcome = kind < 0.5 ? "ambiguous_drop" : "ambiguous_500";
  } else if (u < edge + faults.pTimeout) outcome = "timeout";
  return { delayMs, outcome };
}
