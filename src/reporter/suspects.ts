import type { Db } from "../db/connect.ts";
import { type ClaimedEvent, suspectDue } from "../outbox/claim.ts";
import type { SettleRow } from "../outbox/settle.ts";
import type { ReporterLogger } from "./logger.ts";
import { rowForCrashLoop } from "./settle-rows.ts";

/**
 * Whether a suspect waits (outbox/claim.ts suspectDue), asked at most once per poll: a busy
 * worker stops claiming and drains when one does, so that it can send the suspect alone.
 */
export class SuspectWatch {
  private checkedAt = Number.NEGATIVE_INFINITY;
  private waiting = false;

  constructor(
    private readonly db: Db,
    private readonly pollMs: number,
  ) {}

  /** True while a suspect is due (refreshed once per poll). */
  async due(): Promise<boolean> {
    if (Date.now() - this.checkedAt >= this.pollMs) {
      this.checkedAt = Date.now();
      this.waiting = await suspectDue(this.db);
    }
    return this.waiting;
  }

  /** A claim found none (another worker took it): stop draining for it. */
  none(): void {
    this.waiting = false;
  }
}

/** What taking a suspect needs from its worker. */
export interface SuspectContext {
  /** Claims one suspect (claim.ts, `suspects: true`). */
  claim(): Promise<ClaimedEvent | undefined>;
  settle(row: SettleRow): void;
  crashLoopClaims: number;
  logger: ReporterLogger;
  now(): Date;
}

/**
 * When idle, a worker takes one suspect: an event whose last claims ended with the worker gone
 * (open claims ≥ 2, outbox/claim.ts). Once that happened crashLoopClaims times it is
 * dead-lettered as crash_loop here, in the claim path, before pre-flight or a send can run it
 * again; otherwise it is returned, to be sent ALONE, so a poison event that kills its worker
 * takes no batch-mate's claims with it. "dead" when dead-lettered, null when there was none.
 */
export async function takeSuspect(ctx: SuspectContext): Promise<ClaimedEvent | "dead" | null> {
  const event = await ctx.claim();
  if (!event) return null;
  // Open claims before this one: each ended with no outcome.
  const open = event.openClaims - 1;
  if (open >= ctx.crashLoopClaims) {
    ctx.logger.error({ event: event.id, openClaims: open }, "dead-lettered as crash_loop");
    ctx.settle(rowForCrashLoop(event, open, ctx.now()));
    return "dead";
  }
  ctx.logger.warn({ event: event.id, openClaims: open }, "suspect event: sending it alone");
  return event;
}
