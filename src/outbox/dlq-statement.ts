import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";
import type { CountedStatus } from "../db/schema/usage-event-counts.ts";
import { type DlqTarget, deadAt, targetWhere } from "./dlq-where.ts";
import { addToCount } from "./event-counts.ts";

/** How an operator asks for a retry, discard or resolve. */
export interface DlqRun {
  target: DlqTarget;
  /** Count and sample what would change; change nothing. */
  dryRun: boolean;
  /** Most events one statement changes; a filter that matches more leaves the rest for a next call. */
  limit: number;
  /** Who did it, for the audit rows (e.g. `key "ops"`). */
  actor: string;
  /** The operator's own words, kept in the audit rows. */
  note?: string | null | undefined;
}

/** What an operator statement (or its dry run) found and did. */
export interface DlqOutcome {
  /** Dead letters (status failed) the target matched, as the statement's snapshot saw them. */
  matched: number;
  /** Ids it changed (none on a dry run), oldest dead letter first. */
  changed: string[];
  /** How many of the matched it would change, in this and later batches (dry run). */
  wouldChangeCount: number;
  /** A sample (up to DRY_RUN_SAMPLE) of the ids it would change (dry run). */
  wouldChange: string[];
  /** The first matched ids (up to MATCHED_IDS_MAX): enough to tell which named ids matched. */
  matchedIds: string[];
  /** Matched but refused (retry: first ambiguous attempt older than the dedup window). */
  refused: number;
  /** A sample (up to REFUSED_SAMPLE) of the refused ids. */
  refusedIds: string[];
}

/** The most ids a request may name; also how many matched ids a statement reports back. */
export const MATCHED_IDS_MAX = 1000;
/** How many ids a dry run shows: a sample to check, not an inventory. */
export const DRY_RUN_SAMPLE = 20;
/** How many refused ids an outcome carries. */
export const REFUSED_SAMPLE = 20;

/** One action's own parts of the shared statement: what it sets and what it writes in the audit. */
export interface DlqAction {
  /** usage_event_attempts.outcome of the audit row (operator_retry, …). */
  outcome: string;
  /** The SET list of the UPDATE of usage_events `e`. */
  set: SQL;
  /** True for a matched event (usage_events `e`) the action must not touch; sql`false` for none. */
  refuse: SQL;
  /** The audit row's attempt number, over the batch row `b` (attempts, code before the change). */
  attemptNo: SQL;
  /** The audit row's message, over the batch row `b`. */
  message: SQL;
  /** The counted status the changed events enter (usage_event_counts); null: none. */
  counts: CountedStatus | null;
}

interface OutcomeRow extends Record<string, unknown> {
  matched: number;
  refused: number;
  would_change: number;
  changed_ids: string | null;
  would_ids: string | null;
  matched_ids: string | null;
  refused_ids: string | null;
}

/**
 * Runs one operator action over a batch of dead letters in ONE statement: select what the
 * target matches, change up to `limit` of them with a guarded UPDATE, write one audit row per
 * changed event, and count. Concurrent operators cannot double-apply: the UPDATE's `status =
 * 'failed'` guard is re-checked on the row's latest version, so of two racing statements one
 * changes the event and the other finds it no longer failed (and writes no audit row).
 */
export async function runDlq(db: Db, run: DlqRun, action: DlqAction): Promise<DlqOutcome> {
  const named = "ids" in run.target;
  const change = run.dryRun
    ? sql`select id from batch where false`
    : sql`update usage_events as e set ${action.set}
          from batch b
         where e.id = b.id
           -- The guard: only a dead letter still failed, and still not refused, is changed.
           and e.status = 'failed'
           and not ${action.refuse}
        returning e.id`;
  const audit = run.dryRun
    ? sql``
    : sql`, audit as (
        insert into usage_event_attempts (event_id, attempt, worker, outcome, message, started_at)
        select b.id, ${action.attemptNo}, 'operator', ${action.outcome}::text, ${action.message}, now()
          from changed c join batch b on b.id = c.id
      )${
        action.counts === null
          ? sql``
          : sql`, counted as (${addToCount(action.counts, sql`select count(*) as n from changed`)})`
      }`;
  const [row] = await rows<OutcomeRow>(
    db,
    sql`
    with matched as (
      select e.id, ${deadAt} as dead_at, e.attempts, e.last_error_code as code,
             ${action.refuse} as expired
        from usage_events e
       where ${targetWhere(run.target)}
    ),
    batch as (
      select id, dead_at, attempts, code from matched
       where not expired
         -- Named ids are all or nothing: an operator who named five events and had three
         -- changed would have to work out which. A filter skips what it must refuse.
         ${named ? sql`and not exists (select 1 from matched where expired)` : sql``}
       order by dead_at, id
       limit ${run.limit}::int
    ),
    changed as (${change})
    ${audit}
    select
      (select count(*)::int from matched) as matched,
      (select count(*)::int from matched where expired) as refused,
      (select count(*)::int from matched where not expired) as would_change,
      (select json_agg(b.id order by b.dead_at, b.id)::text
         from changed c join batch b on b.id = c.id) as changed_ids,
      (select json_agg(id order by dead_at, id)::text
         from (select id, dead_at from batch order by dead_at, id
                limit ${DRY_RUN_SAMPLE}::int) s) as would_ids,
      (select json_agg(id order by dead_at, id)::text
         from (select id, dead_at from matched order by dead_at, id
                limit ${MATCHED_IDS_MAX}::int) s) as matched_ids,
      (select json_agg(id order by dead_at, id)::text
         from (select id, dead_at from matched where expired order by dead_at, id
                limit ${REFUSED_SAMPLE}::int) s) as refused_ids`,
  );
  if (row === undefined) throw new Error("dead-letter statement returned no row");
  return {
    matched: row.matched,
    changed: idList(row.changed_ids),
    // Named ids with a refusal change nothing (all or nothing, above).
    wouldChangeCount: named && row.refused > 0 ? 0 : row.would_change,
    wouldChange: idList(row.would_ids),
    matchedIds: idList(row.matched_ids),
    refused: row.refused,
    refusedIds: idList(row.refused_ids),
  };
}

/** The audit message's tail: who did it, and their note when they gave one. */
export function byWhom(run: Pick<DlqRun, "actor" | "note">): string {
  return run.note ? ` by ${run.actor} (note: ${run.note})` : ` by ${run.actor}`;
}

/** json_agg(...)::text of ids, or null for none. */
function idList(json: string | null): string[] {
  return json === null ? [] : (JSON.parse(json) as string[]);
}
