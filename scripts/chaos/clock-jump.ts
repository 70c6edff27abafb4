import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import type { RunningEmulator } from "../../src/emulator/index.ts";
import { type DisruptionRecord, haltAll } from "./disruptions.ts";
import type { WorkerPool } from "./workers.ts";

/** Time for requests already at the emulator when the workers died to finish there. */
const SETTLE_MS = 1_500;

/** One clock jump, as it happened. */
export interface ClockJump {
  /** Wall clock when every worker was killed. */
  atMs: number;
  /** How far Stripe's clock moved, and the chosen events' stored times back. */
  shiftMs: number;
  /** Stripe's clock before and after. */
  stripeFromMs: number;
  stripeToMs: number;
  /** Workers SIGKILLed for it, with the leases each held. */
  killed: DisruptionRecord[];
  /** Wall clock once the workers ran again. */
  resumedMs: number;
  /**
   * The chosen events: every event pending at the jump that had been sent at least once
   * (first_sent_at set). Their stored times moved back by the shift.
   */
  chosen: string[];
  /**
   * Events already final at the jump that had been sent: aged by the shift too, so that one
   * brought back later (a systemic revert, an operator's retry) is as old for Meterline as it
   * is for Stripe. Their final time before the shift (ms), for the run's timing figures.
   */
  aged: Map<string, number>;
  /** Of those, the ones whose every send so far went unanswered (no attempt settled). */
  neverAnswered: string[];
}

/**
 * A day passes while events wait. Every worker is SIGKILLed (and kept down), so nothing sends
 * and no claim holds stale times; once the requests already at the emulator are done, every
 * event that had been sent (first_sent_at is written before a request leaves, answered or not)
 * has every stored time moved back by `shiftMs`, as test/reporter/time-travel.ts does for all
 * rows, and the emulator's clock moves forward as much: its 24 h dedup (identifiers,
 * idempotency keys) forgets them. Then the workers start.
 *
 * Meterline's database clock cannot jump, so only these events see the day pass. That is
 * enough, and it must be all of them: the chosen ones — sent and still pending — are the ones a
 * resend would bill twice, and the workers must refuse every one as dedup_window_expired; a
 * final one must look as old if something brings it back (a systemic revert of its dead
 * letter). An event never sent is not at risk: its first send comes after the jump. The
 * request log shows, by Stripe's clock, whether any was sent again.
 */
export async function jumpClock(
  pool: WorkerPool,
  db: Db,
  emulator: RunningEmulator,
  shiftMs: number,
): Promise<ClockJump> {
  const atMs = Date.now();
  const killed = await haltAll(pool, db, "SIGKILL");
  let resumed = false;
  try {
    await sleep(SETTLE_MS);
    const { chosen, aged } = await shiftSentEvents(db, shiftMs);
    const stripeFromMs = emulator.now() * 1000;
    emulator.advanceClock(Math.round(shiftMs / 1000));
    const neverAnswered = await rows<{ id: string }>(
      db,
      sql`select id from usage_events
          where id in (select jsonb_array_elements_text(${JSON.stringify(chosen)}::jsonb))
            and last_attempt_at is null`,
    );
    await pool.resume();
    resumed = true;
    return {
      atMs,
      resumedMs: Date.now(),
      shiftMs,
      stripeFromMs,
      stripeToMs: emulator.now() * 1000,
      killed,
      chosen,
      aged,
      neverAnswered: neverAnswered.map((r) => r.id),
    };
  } finally {
    if (!resumed) await pool.resume();
  }
}

/**
 * Moves every stored time of the events already sent back by `shiftMs` (the pending ones, and
 * the others with their final time), but their own time, occurred_at, which never changes.
 */
async function shiftSentEvents(
  db: Db,
  shiftMs: number,
): Promise<{ chosen: string[]; aged: Map<string, number> }> {
  const columns = await rows<{ name: string }>(
    db,
    sql`select column_name as name from information_schema.columns
        where table_name = 'usage_events' and table_schema = current_schema()
          and data_type = 'timestamp with time zone'
          -- The event's own time never changes: Stripe filed it under that time, and a usage
          -- record's verification finds its billing period by it.
          and column_name <> 'occurred_at'`,
  );
  const shifts = columns.map(
    (c) =>
      sql`${sql.identifier(c.name)} = ${sql.identifier(c.name)} - ${shiftMs}::float8 * interval '1 millisecond'`,
  );
  const moved = await rows<{ id: string; status: string; finalAtMs: number | null }>(
    db,
    sql`update usage_events set ${sql.join(shifts, sql`, `)}
        where first_sent_at is not null
        returning id, status,
          (extract(epoch from coalesce(reported_at, failed_at)) * 1000)::float8 as "finalAtMs"`,
  );
  const chosen: string[] = [];
  const aged = new Map<string, number>();
  for (const r of moved) {
    if (r.status === "pending") chosen.push(r.id);
    else if (r.finalAtMs !== null) aged.set(r.id, r.finalAtMs + shiftMs);
  }
  return { chosen, aged };
}
