import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import { liveWorkers } from "../outbox/workers.ts";
import { latestReconciliationSummary } from "../reconcile/run.ts";

/** The outbox's own counts: what the dashboard shows of the queue and the dead letters. */
export interface QueueCounts {
  /** Pending events by wait reason ("none": due or in flight), and how many are leased. */
  pending: Array<{ waitReason: string; leased: boolean; n: number }>;
  /** Seconds since the oldest pending event was received; null when none is pending. */
  oldestPendingAgeS: number | null;
  /**
   * Seconds since the longest-overdue event became due with no worker holding it: the queue's
   * lag. 0 when nothing is overdue. An event waiting on purpose (a backoff, a wait reason) is
   * not due, so this stays low however old the waiting events are.
   */
  oldestDueAgeS: number;
  /** Dead letters (failed events) by code. */
  deadLetters: Array<{ code: string; n: number }>;
}

/**
 * What the queue gauges show (metrics/queue-gauges.ts): the rows that need a person, counted,
 * and the circuits, workers and reconciliation beside them.
 */
export interface QueueSnapshot extends QueueCounts {
  /** Open circuits, by scope ("account", "systemic:<code>"), with how long they have been open. */
  circuits: Array<{ scope: string; openS: number }>;
  /** Workers alive now, with their requests in flight at their last heartbeat. */
  workers: Array<{ id: string; inFlight: number }>;
  /** The latest finished reconciliation: groups that differ, by how much, and when; null: none yet. */
  reconciliation: {
    driftGroups: number;
    driftTotal: number;
    finishedS: number;
    failed: boolean;
  } | null;
}

/**
 * The snapshot's reads of usage_events, each bounded by a partial index's predicate, so none
 * visits the reported rows (the bulk of the table): pending rows through usage_events_due_idx
 * (unleased, and leased for the stream) and usage_events_leased_idx (leased, of the other
 * meters), the head of the due index for the lag, failed rows through
 * usage_events_dead_letter_idx. Exported so that a test can read their plans.
 */
export const snapshotStatements = {
  pending: sql`select coalesce(wait_reason, 'none') as wait_reason, lease_owner is not null as leased,
                      count(*)::int as n,
                      extract(epoch from now() - min(received_at))::float8 as age_s
                 from usage_events where status = 'pending' and pair_owner is null group by 1, 2
               union all
               select coalesce(wait_reason, 'none'), true, count(*)::int,
                      extract(epoch from now() - min(received_at))::float8
                 from usage_events where status = 'pending' and pair_owner is not null group by 1`,
  due: sql`select extract(epoch from now() - min(next_attempt_at))::float8 as age_s
             from usage_events
            where status = 'pending' and pair_owner is null and lease_owner is null
              and next_attempt_at <= now()`,
  deadLetters: sql`select coalesce(last_error_code, 'unknown') as code, count(*)::int as n
                     from usage_events where status = 'failed' group by 1`,
};

/** Reads the outbox's counts: the statements above, nothing else. */
export async function queueCounts(db: Db): Promise<QueueCounts> {
  const pending = await rows<{ wait_reason: string; leased: boolean; n: number; age_s: number }>(
    db,
    snapshotStatements.pending,
  );
  const [due] = await rows<{ age_s: number | null }>(db, snapshotStatements.due);
  const deadLetters = await rows<{ code: string; n: number }>(db, snapshotStatements.deadLetters);
  const ages = pending.map((p) => p.age_s);
  return {
    pending: pending.map((p) => ({ waitReason: p.wait_reason, leased: p.leased, n: p.n })),
    oldestPendingAgeS: ages.length === 0 ? null : Math.max(...ages),
    oldestDueAgeS: Math.max(0, due?.age_s ?? 0),
    deadLetters: deadLetters.map((d) => ({ code: d.code, n: d.n })),
  };
}

/** Reads the snapshot: the counts, the open circuits, the live workers (a handful) and the latest reconciliation. */
export async function queueSnapshot(db: Db, liveWithinMs: number): Promise<QueueSnapshot> {
  const counts = await queueCounts(db);
  const circuits = await rows<{ scope: string; open_s: number }>(
    db,
    sql`select scope, extract(epoch from now() - opened_at)::float8 as open_s
          from reporter_circuits`,
  );
  const workers = await liveWorkers(db, liveWithinMs);
  // The latest finished run, as the dashboard reads it: never its differences (any size).
  const reconciliation = await latestReconciliationSummary(db);
  return {
    ...counts,
    circuits: circuits.map((c) => ({ scope: c.scope, openS: c.open_s })),
    workers,
    reconciliation:
      reconciliation?.finishedAt != null
        ? {
            driftGroups: reconciliation.driftGroups,
            driftTotal: reconciliation.driftTotal,
            finishedS: reconciliation.finishedAt.getTime() / 1000,
            failed: reconciliation.error !== null,
          }
        : null,
  };
}
