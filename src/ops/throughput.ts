import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { rows } from "../db/rows.ts";

/** Events that reached an end in one minute of the last hour. */
export interface ThroughputMinute {
  /** The minute's start, ISO 8601 UTC. */
  minute: string;
  reported: number;
  /** Dead-lettered in that minute (and still dead letters). */
  failed: number;
}

/** The last hour, minute by minute (minutes with nothing are left out), and its totals. */
export interface Throughput {
  minutes: ThroughputMinute[];
  reported: number;
  failed: number;
}

/** Events of one end state counted by the minute of `column` (when they reached it), last hour. */
function perMinute(status: "reported" | "failed", column: "reported_at" | "failed_at") {
  const at = sql.identifier(column);
  return sql`select to_char(date_trunc('minute', ${at}) at time zone 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS"Z"') as minute,
                    count(*)::int as n
               from usage_events
              where status = ${sql.raw(`'${status}'`)} and ${at} > now() - interval '1 hour'
              group by 1`;
}

/**
 * The statements behind the last hour's throughput, exported so a test can read their plans.
 * Reported rows through usage_events_reported_brin (the last hour's page ranges); failed rows
 * through usage_events_dead_letter_idx, which holds dead letters only. Neither reads the table.
 * The status is a literal, not a parameter, so each matches its partial index's predicate.
 */
export const throughputStatements = {
  reported: perMinute("reported", "reported_at"),
  failed: perMinute("failed", "failed_at"),
};

/**
 * Where the dashboard reads throughput from. One function, so that a table of per-minute counts
 * (written as events settle) can replace these reads without the route or the page changing.
 */
export type ThroughputSource = (db: Db) => Promise<Throughput>;

/** Counts the last hour's reported and dead-lettered events by minute, from usage_events. */
export const lastHourThroughput: ThroughputSource = async (db) => {
  const reported = await rows<{ minute: string; n: number }>(db, throughputStatements.reported);
  const failed = await rows<{ minute: string; n: number }>(db, throughputStatements.failed);
  return mergeMinutes(reported, failed);
};

/** Joins the two counts by minute, oldest first. Pure. */
export function mergeMinutes(
  reported: ReadonlyArray<{ minute: string; n: number }>,
  failed: ReadonlyArray<{ minute: string; n: number }>,
): Throughput {
  const byMinute = new Map<string, ThroughputMinute>();
  const at = (minute: string) => {
    let m = byMinute.get(minute);
    if (!m) {
      m = { minute, reported: 0, failed: 0 };
      byMinute.set(minute, m);
    }
    return m;
  };
  for (const r of reported) at(r.minute).reported += r.n;
  for (const f of failed) at(f.minute).failed += f.n;
  const minutes = [...byMinute.values()].sort((a, b) => (a.minute < b.minute ? -1 : 1));
  return {
    minutes,
    reported: minutes.reduce((sum, m) => sum + m.reported, 0),
    failed: minutes.reduce((sum, m) => sum + m.failed, 0),
  };
}
