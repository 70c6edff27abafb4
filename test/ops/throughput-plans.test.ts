import { type SQL, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { lastHourThroughput, throughputStatements } from "../../src/ops/throughput.ts";
import { backends, seededDatabase } from "../support/db.ts";

/** Pages usage_events holds. */
async function tablePages(database: Database): Promise<number> {
  const [r] = await rows<{ pages: number }>(
    database.db,
    sql`select (pg_relation_size('usage_events') / current_setting('block_size')::int)::int as pages`,
  );
  return r?.pages ?? 0;
}

/** Heap and index pages a statement visited, from EXPLAIN (ANALYZE, BUFFERS), and its plan. */
async function visited(database: Database, statement: SQL) {
  const [r] = await rows<{ "QUERY PLAN": unknown }>(
    database.db,
    sql`explain (analyze, buffers, format json) ${statement}`,
  );
  const plan = JSON.stringify(r?.["QUERY PLAN"]);
  const top =
    (r?.["QUERY PLAN"] as Array<{ Plan: Record<string, number> }> | undefined)?.[0]?.Plan ?? {};
  return { plan, pages: (top["Shared Hit Blocks"] ?? 0) + (top["Shared Read Blocks"] ?? 0) };
}

// The dashboard refreshes every few seconds: its throughput must read the last hour, not every
// event ever billed. 60,000 events reported two days ago, then 30 in the last hour.
describe.each(backends)("the last hour's throughput, on %s", (kind) => {
  const seeded = seededDatabase(kind, [
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status, reported_at)
          select 'old-' || g, 'cus-' || (g % 200), 'api_calls', 1, now(), 'reported',
                 now() - interval '2 days' + g * interval '1 second'
            from generate_series(1, 60000) g`,
    sql`insert into usage_events (id, customer_key, event_name, value, occurred_at, status,
            reported_at, failed_at, last_error_code)
          select 'new-' || g, 'cus-1', 'api_calls', 1, now(),
                 case when g % 10 = 0 then 'failed' else 'reported' end,
                 case when g % 10 = 0 then null else now() - g * interval '1 minute' end,
                 case when g % 10 = 0 then now() - g * interval '1 minute' end,
                 case when g % 10 = 0 then 'customer_deleted' end
            from generate_series(1, 30) g`,
    // What autovacuum's autosummarize does on Postgres, and the embedded database's own look
    // on PGlite (summarizeIfDue, db/auto-analyze.ts).
    sql`select brin_summarize_new_values('usage_events_reported_brin')`,
    sql`analyze usage_events`,
  ]);

  it("counts the last hour by minute: 27 reported, 3 dead-lettered", async () => {
    const t = await lastHourThroughput(seeded().db);
    expect(t.reported).toBe(27);
    expect(t.failed).toBe(3);
    expect(t.minutes).toHaveLength(30);
    expect(t.minutes.map((m) => m.minute)).toEqual([...t.minutes.map((m) => m.minute)].sort());
  });

  it("reported: through the BRIN index, visiting a small share of the table's pages", async () => {
    const pages = await tablePages(seeded());
    const { plan, pages: read } = await visited(seeded(), throughputStatements.reported);
    expect(plan).toContain("usage_events_reported_brin");
    expect(plan).not.toContain('"Seq Scan"');
    expect(read).toBeLessThan(pages / 4);
  });

  it("failed: through the dead-letter index, never the table", async () => {
    const { plan } = await visited(seeded(), throughputStatements.failed);
    expect(plan).toContain("usage_events_dead_letter_idx");
    expect(plan).not.toContain('"Seq Scan"');
  });
});
