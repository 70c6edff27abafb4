import { sql } from "drizzle-orm";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { ATTEMPT_HISTORY } from "../../src/outbox/attempt-history.ts";
import type { AppliedAttempt, OutboxRow } from "./cross-checks.ts";
import type { DisruptionRecord } from "./disruptions.ts";
import type { HeldEvent, Interval, KillOutcome } from "./metrics.ts";

/** An outbox row with the time it became final (reported_at or failed_at, ms since epoch). */
export interface RunRow extends OutboxRow {
  finalAtMs: number | null;
}

// Timestamps leave Postgres as epoch milliseconds: no time zone or Date parsing in between.
const epochMs = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000)::float8`);

/** Every event at the end of the run, with its customer's Stripe id. */
export async function readRows(db: Db): Promise<RunRow[]> {
  return rows<RunRow & Record<string, unknown>>(
    db,
    sql`select e.id, e.customer_key as "customerKey", c.stripe_customer_id as "stripeCustomerId",
          e.event_name as "eventName", e.value::float8 as value, e.status,
          e.wait_reason as "waitReason", e.last_error_code as "lastErrorCode",
          e.last_error_message as "lastErrorMessage", e.last_http_status as "lastHttpStatus",
          ${epochMs("coalesce(e.reported_at, e.failed_at)")} as "finalAtMs"
        from usage_events e left join customers c on c.key = e.customer_key`,
  );
}

/** Attempt rows by outcome (delivered, duplicate, retry, throttled, halted, lease_lost, …). */
export async function attemptOutcomes(db: Db): Promise<Record<string, number>> {
  const counted = await rows<{ outcome: string; n: number }>(
    db,
    sql`select outcome, count(*)::int as n from ${ATTEMPT_HISTORY} a group by outcome order by 2 desc`,
  );
  return Object.fromEntries(counted.map((r) => [r.outcome, r.n]));
}

/** Every attempt row whose outcome was written (all but lease_lost), for the settle-guard check. */
export async function readAppliedAttempts(db: Db): Promise<AppliedAttempt[]> {
  return rows<AppliedAttempt & Record<string, unknown>>(
    db,
    sql`select event_id as "eventId", worker, outcome,
          ${epochMs("started_at")} as "startedAtMs", ${epochMs("finished_at")} as "finishedAtMs"
        from ${ATTEMPT_HISTORY} a where outcome <> 'lease_lost'`,
  );
}

/**
 * What became of the events each killed worker held: the first send recorded after the kill,
 * and when each became final. `quiet` are the spans in which nothing could send (the key
 * revoked, every worker down for a clock jump, a circuit open): a kill whose rescue overlaps
 * one is set apart. `finalAt` corrects the final times the clock jump aged.
 */
export async function killOutcomes(
  db: Db,
  kills: readonly DisruptionRecord[],
  quiet: readonly Interval[],
  finalAt: ReadonlyMap<string, number>,
): Promise<KillOutcome[]> {
  const outcomes: KillOutcome[] = [];
  for (const kill of kills) {
    const found =
      kill.held.length === 0
        ? []
        : await rows<HeldEvent & Record<string, unknown>>(
            db,
            sql`select e.id,
                  (select ${epochMs("min(a.started_at)")} from ${ATTEMPT_HISTORY} a
                    where a.event_id = e.id
                      and a.started_at > to_timestamp(${kill.atMs}::float8 / 1000)) as "resentAtMs",
                  ${epochMs("coalesce(e.reported_at, e.failed_at)")} as "finalAtMs"
                from usage_events e
                where e.id in (select jsonb_array_elements_text(${JSON.stringify(kill.held)}::jsonb))`,
          );
    const held = found.map((h) => ({ ...h, finalAtMs: finalAt.get(h.id) ?? h.finalAtMs }));
    const lastFinal = Math.max(kill.atMs, ...held.map((h) => h.finalAtMs ?? Date.now()));
    const duringRevoke = quiet.some((q) => kill.atMs <= q.toMs && lastFinal >= q.fromMs);
    outcomes.push({ workerId: kill.workerId, atMs: kill.atMs, held, duringRevoke });
  }
  return outcomes;
}
