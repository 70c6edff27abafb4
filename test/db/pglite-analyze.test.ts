import { PGlite } from "@electric-sql/pglite";
import { afterEach, describe, expect, it } from "vitest";
import { analyzeDue, analyzeIfDue } from "../../src/db/pglite-analyze.ts";

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
});
