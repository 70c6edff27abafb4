import { getTableName, is } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import * as schema from "./schema/index.ts";

/**
 * Autovacuum's analyze (and BRIN autosummarize), done by Meterline itself where nothing else
 * does it: on PGlite, which runs no autovacuum, and on a Postgres server whose autovacuum is off
 * (for the server, or for the table).
 *
 * Without it the planner keeps planning the hot statements for the table it saw last. Two ways
 * that hurt, both measured:
 * - Statistics that lag the queue: a queue of 20,000 events settled ten times slower than one of
 *   10,000 on PGlite (the bench's v2 stream: 410 against 3,033 events/s).
 * - A prepared statement keeps its generic plan until a table it reads is analyzed (or altered),
 *   whatever the table has become since. A worker that starts on an empty outbox plans its poll
 *   statements for an empty table, and the plan that reads nothing on an empty table is a
 *   sequential scan: the suspect check (outbox/claim.ts suspectDue, no parameters, so planned
 *   once at its first run) read every row of usage_events at every poll, 100,000 rows and
 *   20-100 ms each in the bench's v2 stream (it is now planned at each run instead). Claims,
 *   mark-sent, settles, heartbeats and releases prepared on an empty or near-empty outbox keep
 *   sequential scans the same way, and so do the ingest statements and the pre-flight lookup
 *   prepared while there were few customers (test/outbox/plans-after-growth.test.ts). An
 *   ANALYZE invalidates those plans in every session, and the next run plans for the table as
 *   it is.
 * So the process that opens the database does autovacuum's analyze by the same rule: once a
 * table has grown by a share of its size since the last ANALYZE.
 */

/** Runs one statement and returns its rows: PGlite's client.query, or a pg pool's. */
export type RunQuery = <T>(text: string, params?: unknown[]) => Promise<T[]>;

/** When to analyze: autovacuum's defaults (50 rows + 10 %), measured in pages. */
export interface AnalyzeRule {
  /** Pages a table may grow by, beyond `share` of its size at the last ANALYZE. */
  basePages: number;
  share: number;
  /** Analyze anyway this long after the last one if the table changed size at all. */
  maxAgeMs: number;
}

export const DEFAULT_ANALYZE_RULE: AnalyzeRule = { basePages: 8, share: 0.1, maxAgeMs: 300_000 };

/**
 * Whether a table is due: its size now against its size at the last ANALYZE (pg_class.relpages,
 * which ANALYZE writes). Pages, not rows: PGlite's row counters (pg_stat_user_tables) are not
 * flushed while it runs, and a page count is exact and cheap. Pure.
 */
export function analyzeDue(
  t: { pagesNow: number; pagesAtAnalyze: number; msSinceAnalyze: number },
  rule: AnalyzeRule = DEFAULT_ANALYZE_RULE,
): boolean {
  const grown = t.pagesNow - t.pagesAtAnalyze;
  if (grown >= rule.basePages + rule.share * t.pagesAtAnalyze) return true;
  return grown !== 0 && t.msSinceAnalyze >= rule.maxAgeMs;
}

/**
 * Which database is behind the queries: "pglite" has no autovacuum at all; on "postgres" a table
 * is left to autovacuum unless it is off, for the server (`autovacuum`, or `track_counts`,
 * without which it cannot see what changed) or for the table (`autovacuum_enabled`). A table
 * Meterline's role does not own is left alone too: ANALYZE would only skip it with a warning.
 */
export type AnalyzeEngine = "pglite" | "postgres";

/**
 * Meterline's tables (every table of its schema, db/schema/): all of them, as autovacuum would.
 * The outbox grows fastest, but a statement that looks customers up, prepared while a platform
 * had a handful, reads them all at every run once it has thousands, just the same.
 */
const TABLES = (Object.values(schema) as unknown[])
  .flatMap((t) => (is(t, PgTable) ? [getTableName(t)] : []))
  .sort();

/** One of TABLES, by its size in pages now and at its last ANALYZE (pg_class.relpages). */
export interface TableSize {
  name: string;
  pages: number;
  pages_now: number;
}

/**
 * Those of TABLES that autovacuum does not look after, with their sizes: what one look reads,
 * once, for both its jobs (analyzeIfDue, summarizeIfDue).
 */
export function unattendedTables(query: RunQuery, engine: AnalyzeEngine): Promise<TableSize[]> {
  const unattended =
    engine === "pglite"
      ? "true"
      : `not (current_setting('autovacuum')::boolean
              and current_setting('track_counts')::boolean
              and coalesce((select o.option_value::boolean
                              from pg_options_to_table(c.reloptions) o
                             where o.option_name = 'autovacuum_enabled'), true))
         and pg_has_role(c.relowner, 'member')`;
  return query<TableSize>(
    `select c.relname as name, c.relpages as pages,
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as pages_now
       from pg_class c
      -- By the search path, as the statements name them.
      where c.oid in (select to_regclass(t) from unnest($1::text[]) as t)
        and ${unattended}
      order by c.relname`,
    [TABLES],
  );
}

/** What a process remembers of its own ANALYZEs, by table name. */
export interface AnalyzeMemory {
  /** When it last ran one. */
  at: Map<string, number>;
  /**
   * The table's size when it last ran one: if that ANALYZE changed nothing (it failed, or was
   * skipped), the table is not due again until it grows by the rule from there.
   */
  pages: Map<string, number>;
}

/** An empty AnalyzeMemory. */
export function analyzeMemory(): AnalyzeMemory {
  return { at: new Map(), pages: new Map() };
}

/**
 * Analyzes those of `tables` that are due, and notes it in `memory`. Returns the tables
 * analyzed. Several processes may look at one Postgres database: the size at the last ANALYZE
 * is the table's own (pg_class), so once one has analyzed, the others find nothing due.
 */
export async function analyzeIfDue(
  query: RunQuery,
  tables: readonly TableSize[],
  memory: AnalyzeMemory,
  rule: AnalyzeRule = DEFAULT_ANALYZE_RULE,
): Promise<string[]> {
  const done: string[] = [];
  for (const r of tables) {
    const since = Date.now() - (memory.at.get(r.name) ?? 0);
    const pagesAtAnalyze = Math.max(r.pages, memory.pages.get(r.name) ?? 0);
    const due = { pagesNow: r.pages_now, pagesAtAnalyze, msSinceAnalyze: since };
    if (!analyzeDue(due, rule)) continue;
    memory.at.set(r.name, Date.now());
    memory.pages.set(r.name, r.pages_now);
    await query(`analyze ${r.name}`);
    done.push(r.name);
  }
  return done;
}

/** Pages of one BRIN range (pages_per_range's default): a range is summarized once it is full. */
const BRIN_RANGE_PAGES = 128;

/**
 * Autovacuum's other job here: usage_events_reported_brin asks for autosummarize, which only
 * autovacuum runs, so without this every range after the index's creation stays unsummarized
 * and a read of the last hour's reports (ops/throughput.ts) visits the whole table. Summarizes
 * the new ranges once the table has grown by a range since the last time (`summarizedAt`: its
 * size in pages then), when autovacuum does not look after usage_events (it is among `tables`).
 * Returns whether it did.
 */
export async function summarizeIfDue(
  query: RunQuery,
  tables: readonly TableSize[],
  summarizedAt: { pages: number },
): Promise<boolean> {
  const table = tables.find((t) => t.name === "usage_events");
  if (table === undefined || table.pages_now - summarizedAt.pages < BRIN_RANGE_PAGES) return false;
  // Noted first: a failed call is tried again only after another range, not at every look.
  summarizedAt.pages = table.pages_now;
  await query("select brin_summarize_new_values('usage_events_reported_brin')");
  return true;
}

/**
 * How often a process looks: PGlite every 2 s (one query on pg_class; a queue can grow tenfold
 * in ten seconds, and a PGlite outbox has no one else to analyze it); Postgres every minute,
 * autovacuum's own pace (autovacuum_naptime), which is all a server with autovacuum on would
 * give it. Faster on Postgres cost more than it saved: in the bench's v2 stream, the API's and
 * the worker's looks every 2 s analyzed the growing outbox and its attempts every few seconds,
 * and each ANALYZE made every connection plan its statements again (Postgres CPU per event
 * 0.048 → 0.060 ms).
 */
export const LOOK_EVERY_MS: Record<AnalyzeEngine, number> = { pglite: 2_000, postgres: 60_000 };

/**
 * Looks every `everyMs`. Never throws: a failed look (a restarting server) is tried again at
 * the next.
 * Returns the stop function: call it before the database closes (it waits for a look under way).
 */
export function startAutoAnalyze(
  query: RunQuery,
  engine: AnalyzeEngine,
  everyMs = LOOK_EVERY_MS[engine],
): () => Promise<void> {
  const memory = analyzeMemory();
  const summarizedAt = { pages: 0 };
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    running ??= unattendedTables(query, engine)
      .then(async (tables) => {
        await analyzeIfDue(query, tables, memory);
        await summarizeIfDue(query, tables, summarizedAt);
      })
      .catch(() => {})
      .finally(() => {
        running = null;
      });
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
