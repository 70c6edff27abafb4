import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  analyzeDue,
  analyzeIfDue,
  analyzeMemory,
  type RunQuery,
  startAutoAnalyze,
  summarizeIfDue,
  unattendedTables,
} from "../../src/db/auto-analyze.ts";
import { describeOnPostgres, emptyPostgresDatabase } from "../support/db.ts";

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

/** PGlite's client as the look runs its queries. */
const query =
  (client: PGlite): RunQuery =>
  async (text, params) =>
    (await client.query<never>(text, params)).rows;

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

    const memory = analyzeMemory();
    expect(
      await analyzeIfDue(query(client), await unattendedTables(query(client), "pglite"), memory),
    ).toEqual(["usage_events"]);
    const after = await stats();
    expect(after?.tuples).toBe(20_000);
    expect(after?.pages).toBeGreaterThan(8);

    expect(
      await analyzeIfDue(query(client), await unattendedTables(query(client), "pglite"), memory),
    ).toEqual([]);
  });

  it("tries a failed ANALYZE again only once the table has grown by the rule from there", async () => {
    const pg = new PGlite();
    client = pg;
    await pg.exec(`create table usage_events (id text primary key, status text);
      analyze usage_events;`);
    const grow = (from: number, to: number) =>
      pg.exec(`insert into usage_events
        select 'evt-' || g, 'pending' from generate_series(${from}, ${to}) g`);
    await grow(1, 20_000);
    let refuse = true;
    const failing: RunQuery = async (text, params) => {
      if (refuse && text.startsWith("analyze")) throw new Error("permission denied");
      return query(pg)(text, params);
    };
    const memory = analyzeMemory();
    await expect(
      analyzeIfDue(failing, await unattendedTables(failing, "pglite"), memory),
    ).rejects.toThrow("permission denied");
    refuse = false;
    // Not at every look (every 2 s) while nothing changes it: the size it was tried at counts.
    expect(await analyzeIfDue(failing, await unattendedTables(failing, "pglite"), memory)).toEqual(
      [],
    );
    await grow(20_001, 24_000);
    expect(await analyzeIfDue(failing, await unattendedTables(failing, "pglite"), memory)).toEqual([
      "usage_events",
    ]);
  });

  it("summarizes the reported-events BRIN once the table grew by a range, as autosummarize would", async () => {
    const pg = new PGlite();
    client = pg;
    await pg.exec(`create table usage_events (id text primary key, status text, reported_at timestamptz);
      create index usage_events_reported_brin on usage_events using brin (reported_at)
        with (autosummarize = on) where status = 'reported';
      set enable_seqscan = off;`);
    const summarizedAt = { pages: 0 };
    expect(
      await summarizeIfDue(query(pg), await unattendedTables(query(pg), "pglite"), summarizedAt),
    ).toBe(false);
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

    expect(
      await summarizeIfDue(query(pg), await unattendedTables(query(pg), "pglite"), summarizedAt),
    ).toBe(true);
    expect(summarizedAt.pages).toBe(pages);
    expect(
      await summarizeIfDue(query(pg), await unattendedTables(query(pg), "pglite"), summarizedAt),
    ).toBe(false);
    const after = await heapPages();
    expect(after).toBeLessThanOrEqual(2 * 128);
    expect(after).toBeLessThan(before / 2);
  });
});

describeOnPostgres("analyzeIfDue on Postgres", () => {
  let db: { url: string; drop: () => Promise<void> } | null = null;
  let client: pg.Client | null = null;
  afterEach(async () => {
    await client?.end();
    client = null;
    await db?.drop();
    db = null;
  });
  const connect = async () => {
    db = await emptyPostgresDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    return client;
  };
  const pgQuery =
    (c: pg.Client): RunQuery =>
    async (text, params) =>
      (await c.query(text, params)).rows as never[];

  it("analyzes only the tables that autovacuum leaves alone", async () => {
    const c = await connect();
    await c.query(`
      create table usage_events (id text primary key) with (autovacuum_enabled = false);
      create table usage_event_attempts (event_id text, id bigint, primary key (event_id, id));
      analyze;
      insert into usage_events select 'evt-' || g from generate_series(1, 20000) g;
      insert into usage_event_attempts select 'evt-' || g, 1 from generate_series(1, 20000) g;`);
    const serverOn = (await c.query("select current_setting('autovacuum') as on")).rows[0].on;
    const analyzed = await analyzeIfDue(
      pgQuery(c),
      await unattendedTables(pgQuery(c), "postgres"),
      analyzeMemory(),
    );
    // usage_events: off for the table. The attempts: left to the server's autovacuum when it
    // runs (CI's server runs with it off).
    expect(analyzed).toEqual(
      serverOn === "on" ? ["usage_events"] : ["usage_event_attempts", "usage_events"],
    );
    expect(
      await analyzeIfDue(
        pgQuery(c),
        await unattendedTables(pgQuery(c), "postgres"),
        analyzeMemory(),
      ),
    ).toEqual([]);
  });

  it("looks again and again once started, and analyzes a table as it grows", async () => {
    const c = await connect();
    await c.query(`create table usage_events (id text primary key) with (autovacuum_enabled = false);
      analyze usage_events;
      insert into usage_events select 'evt-' || g from generate_series(1, 20000) g`);
    const tuples = async () =>
      Number(
        (await c.query("select reltuples from pg_class where relname = 'usage_events'")).rows[0]
          .reltuples,
      );
    expect(await tuples()).toBe(0);
    // (What openDatabase starts, once a minute on Postgres; here every 100 ms.)
    const stop = startAutoAnalyze(pgQuery(c), "postgres", 100);
    try {
      const deadline = Date.now() + 10_000;
      while ((await tuples()) === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await tuples()).toBe(20_000);
      await c.query("insert into usage_events select 'new-' || g from generate_series(1, 20000) g");
      while ((await tuples()) === 20_000 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await tuples()).toBe(40_000);
    } finally {
      await stop();
    }
  });
});
