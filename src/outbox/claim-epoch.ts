import { sql } from "drizzle-orm";

/**
 * usage_events.claims packs two numbers, so that crash loops can be told apart from slow
 * events without a new column, and the settle guard keeps a value that never repeats:
 *
 *   claims = outcomes · CLAIM_EPOCH + open claims
 *
 * A claim adds 1. Every settle (and an orderly release: shutdown, account halt) moves it to the
 * next multiple of CLAIM_EPOCH. So `claims % CLAIM_EPOCH` counts the claims since the last
 * outcome, i.e. claims that ended with the worker gone (SIGKILL, crash, lost lease), and the
 * whole value only grows: a stale settle from an older claim can never match it again (a reset
 * to 0 would let claim numbers repeat, and a stale settle of the same owner slip through).
 * 1,000 open claims are never reached: crash_loop fails an event after a handful.
 */
export const CLAIM_EPOCH = 1000;

/**
 * Claims of an event since its last outcome that ended without one, before a claim
 * (`claims` as stored) — the crash-loop measure.
 */
export function openClaims(claims: number): number {
  return claims % CLAIM_EPOCH;
}

/** SQL: `claims` moved to the next epoch (an outcome was written, or the claim ended cleanly). */
export const nextEpoch = sql.raw(`(e.claims / ${CLAIM_EPOCH} + 1) * ${CLAIM_EPOCH}`);

/**
 * Open claims at which an event is a suspect: it was held by two workers (or one, twice) that
 * died before an outcome. Suspects are claimed one at a time by an idle worker (claim.ts), so
 * a poison event that kills its worker takes no batch-mates with it.
 */
export const SUSPECT_OPEN_CLAIMS = 2;
