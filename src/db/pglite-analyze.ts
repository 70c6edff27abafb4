import type { PGlite } from "@electric-sql/pglite";

/**
 * PGlite runs no autovacuum: nothing refreshes the planner's statistics as the outbox grows, so
 * it keeps planning the hot statements (settle, mark-sent, the claim's rescue check: each joins a
 * batch to usage_events by id) for the table it saw last, and a queue of 20,000 events settled
 * ten times slower than one of 10,000 (the bench's v2 stream on PGlite: 410 against 3,033
 * events/s). So the process that opens PGlite does autovacuum's analyze itself, by the same
 * rule: once a table has changed by a share of its size since the last ANALYZE.
 */

/** The tables the hot statements read by batch; the others stay small. */
const TABLES = ["usage_events", "usage_event_attempts"] as const;

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
 * One look: analyzes the tables due, and notes when in `analyzedAt` (by table name). Returns
 * the tables analyzed.
 */
export async function analyzeIfDue(
  client: PGlite,
  analyzedAt: Map<string, number>,
  rule: AnalyzeRule = DEFAULT_ANALYZE_RULE,
): Promise<string[]> {
  const { rows } = await client.query<{ name: string; pages_now: number; pages: number }>(
    `select c.relname as name, c.relpages as pages,
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::int as pages_now
       from pg_class c
      -- By the search path, as the hot statements name them.
      where c.oid in (select to_regclass(t) from unnest($1::text[]) as t)`,
    [[...TABLES]],
  );
  const done: string[] = [];
  for (const r of rows) {
    const since = Date.now() - (analyzedAt.get(r.name) ?? 0);
    const due = { pagesNow: r.pages_now, pagesAtAnalyze: r.pages, msSinceAnalyze: since };
    if (!analyzeDue(due, rule)) continue;
    await client.exec(`analyze ${r.name}`);
    analyzedAt.set(r.name, Date.now());
    done.push(r.name);
  }
  return done;
}

/** Pages of one BRIN range (pages_per_range's default): a range is summarized once it is full. */
const BRIN_RANGE_PAGES = 128;

/**
 * Autovacuum's other job here: usage_events_reported_brin asks for autosummarize, which PGlite
 * does not run, so without this every range after the index's creation stays unsummarized and
 * a read of the last hour's reports (ops/throughput.ts) visits the whole table. Summarizes the
 * new ranges once the table has grown by a range since the last time (`summarizedAt`: its size
 * in pages then). Returns whether it did.
 */
export async function summarizeIfDue(
  client: PGlite,
  summarizedAt: { pages: number },
): Promise<boolean> {
  const { rows } = await client.query<{ pages: number }>(
    "select (pg_relation_size('usage_events') / current_setting('block_size')::int)::int as pages",
  );
  const pages = rows[0]?.pages ?? 0;
  if (pages - summarizedAt.pages < BRIN_RANGE_PAGES) return false;
  await client.query("select brin_summarize_new_values('usage_events_reported_brin')");
  summarizedAt.pages = pages;
  return true;
}

/**
 * Looks every `everyMs` (analyzeIfDue: one query on pg_class; a queue can grow tenfold in ten
 * seconds). Never throws: a failed look is tried again at the next.
 * Returns the stop function: call it before the database closes (it waits for a look under way).
 */
export function startPgliteAnalyze(client: PGlite, everyMs = 2_000): () => Promise<void> {
  const analyzedAt = new Map<string, number>();
  const summarizedAt = { pages: 0 };
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    running ??= analyzeIfDue(client, analyzedAt)
      .then(() => summarizeIfDue(client, summarizedAt))
      .catch(() => [])
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
