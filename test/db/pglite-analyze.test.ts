import { PGlite } from "@electric-sql/pglite";
import { afterEach, describe, expect, it } from "vitest";
import { analyzeDue, analyzeIfDue, summarizeIfDue } from "../../src/db/pglite-analyze.ts";

describe("analyzeDue (PGlite has no autovacuum)", () => {
  it("due once a table grew by 8 pages plus a tenth of its size at the last ANALYZE", () => {
    const old = 1_000;
    expect(analyzeDue({ pagesNow: 0, pagesAtAnalyze: 0, msSinceAnalyze: old })).toBe(false);
    expect(analyzeDue({ pagesNow: 7, pagesAtAnalyze: 0, msSinceAnalyze: old })).toBe(false);
    expect(analyzeDue({ pagesNow: 8, pagesAtAnalyze: 0, msSinceAnalyze: old })).toBe(true);
    expect(analyzeDue({ pagesNow: 1_107, pagesAtAnalyze: 1_000, msSinceAnalyze: old })).toBe(false);
    expect(analyzeDue({ pagesNow: 1_108, pagesAtAnalyze: 1_000, msSinceAnalyze: old })).toBe(true);
  });

  it("due after five minutes if it changed size at all, never if it did not", () => {
    const late = 300_000;
    expect(analyzeDue({ pagesNow: 1_001, pagesAtAnalyze: 1_000, msSinceAnalyze: late })).toBe(true);
    expect(analyzeDue({ pagesNow: 1_000, pagesAtAnalyze: 1_000, msSinceAnalyze: late })).toBe(
      false,
    );
  });
});

describe("analyzeIfDue on PGlite", () => {
  let client: PGlite | null = null;
  afterEach(async () => {
    await client?.close();
    client = null;
  });

  it("analyzes the outbox once it has grown, and not again until it grows more", async () => {
    client = new PGlite();
    await client.exec(`create table usage_events (id text primary key, status text);
      analyze usage_events;`);
    await client.exec(`insert into usage_events
      select 'evt-' || g, case when g % 10 = 0 then 'pending' else 'reported' end
        from generate_series(1, 20000) g`);
    const stats = async () =>
      (
        await client?.query<{ pages: number; tuples: number }>(
          "select relpages as pages, reltuples::int as tuples from pg_class where relname = 'usage_events'",
        )
      )?.rows[0];
    expect(await stats()).toEqual({ pages: 0, tuples: 0 });

    const analyzedAt = new Map<string, number>();
    expect(await analyzeIfDue(client, analyzedAt)).toEqual(["usage_events"]);
    const after = await stats();
    expect(after?.tuples).toBe(20_000);
    expect(after?.pages).toBeGreaterThan(8);

    expect(await analyzeIfDue(client, analyzedAt)).toEqual([]);
  });

  it("summarizes the reported-events BRIN once the table grew by a range, as autosummarize would", async () => {
    const pg = new PGlite();
    client = pg;
    await pg.exec(`create table usage_events (id text primary key, status text, reported_at timestamptz);
      create index usage_events_reported_brin on usage_events using brin (reported_at)
        with (autosummarize = on) where status = 'reported';
      set enable_seqscan = off;`);
    const summarizedAt = { pages: 0 };
    expect(await summarizeIfDue(pg, summarizedAt)).toBe(false);
    // A day of reports in time order: the last hour is the table's last pages.
    await pg.exec(`insert into usage_events
      select 'evt-' || g, 'reported', now() - interval '1 day' + g * interval '2 seconds'
        from generate_series(1, 43200) g`);
    /** Heap pages the last hour's count visits through the index (lossy: BRIN gives ranges). */
    const heapPages = async () => {
      const plan = await pg.query<{ "QUERY PLAN": string }>(
        `explain (analyze, costs off) select count(*) from usage_events
          where status = 'reported' and reported_at > now() - interval '1 hour'`,
      );
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toContain("usage_events_reported_brin");
      return Number(/lossy=(\d+)/.exec(text)?.[1]);
    };
    const pages = (
      await pg.query<{ pages: number }>(
        "select (pg_relation_size('usage_events') / 8192)::int as pages",
      )
    ).rows[0]?.pages;
    expect(pages).toBeGreaterThan(256);
    // Unsummarized, every range is a candidate: most of the table is read.
    const before = await heapPages();
    expect(before).toBeGreaterThan((pages ?? 0) / 2);

    expect(await summarizeIfDue(pg, summarizedAt)).toBe(true);
    expect(summarizedAt.pages).toBe(pages);
    expect(await summarizeIfDue(pg, summarizedAt)).toBe(false);
    const after = await heapPages();
    expect(after).toBeLessThanOrEqual(2 * 128);
    expect(after).toBeLessThan(before / 2);
  });
});
