import { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeIfDue, analyzeMemory, type RunQuery } from "../../src/db/auto-analyze.ts";
import type { Database } from "../../src/db/connect.ts";
import { preparedRows } from "../../src/db/prepared.ts";
import { rows } from "../../src/db/rows.ts";
import {
  claimDueStatement,
  claimRescuesStatement,
  suspectDue,
  suspectDueStatement,
} from "../../src/outbox/claim.ts";
import { extendLeasesStatement } from "../../src/outbox/extend-leases.ts";
import { markSentStatement } from "../../src/outbox/mark-sent.ts";
import { releaseStatement } from "../../src/outbox/release.ts";
import { settleStatement } from "../../src/outbox/settle.ts";
import { delivered } from "../reporter/fixtures.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { cachedPlanOf, planOf, seqScansOf } from "../support/plans.ts";

// A prepared statement keeps its plan until a table it reads is analyzed, whatever the table has
// become. A worker that starts on an empty outbox prepares its statements there, and planned for
// an empty table they read it whole. On PGlite, and on a server whose autovacuum is off, only
// Meterline's own analyze (db/auto-analyze.ts) makes them plan again; the suspect check, which
// has no parameter (one plan, made at its first run), is planned at every run instead.
const three = [1, 2, 3].map((n) => ({ id: `evt-${n}`, claims: 1, attempts: 0 }));
const statements: Record<string, () => SQL> = {
  meterline_claim_due: () => claimDueStatement("w1", 60_000, 400),
  meterline_claim_rescues: () => claimRescuesStatement("w1", 60_000, 400, false),
  meterline_claim_rescues_suspects: () => claimRescuesStatement("w1", 60_000, 1, true),
  meterline_mark_sent: () => markSentStatement("w1", three),
  meterline_settle: () => settleStatement("w1", three.map(delivered)),
  meterline_extend_leases: () => extendLeasesStatement("w1", ["evt-1", "evt-2", "evt-3"], 60_000),
  meterline_release: () => releaseStatement("w1", three),
};

describe.each(backends)("statements prepared on an empty outbox, on %s", (kind) => {
  let database: Database;
  let plans: Record<string, string> = {};
  let suspectPlan = "";
  let suspectPrepared = -1;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    await rows(database.db, sql`analyze usage_events`);
    plans = await database.withAdvisoryLock(4_243, async (db) => {
      // Each run as a worker runs it while nothing is pending, past the five runs after which a
      // prepared statement may keep a generic plan.
      for (const [name, statement] of Object.entries(statements)) {
        for (let i = 0; i < 8; i++) await preparedRows(db, name, statement());
      }
      for (let i = 0; i < 8; i++) await suspectDue(db);
      await rows(
        db,
        sql`insert into usage_events (id, customer_key, event_name, value, occurred_at)
          select 'evt-' || g, 'cus-' || (g % 200), 'api_calls', 1, now()
            from generate_series(1, 50000) g`,
      );
      // The suspect check as it runs now: planned for the outbox as it is, and never prepared.
      await suspectDue(db);
      suspectPlan = await planOf(database, suspectDueStatement, "custom");
      const [prepared] = await rows<{ n: number }>(
        db,
        sql`select count(*)::int as n from pg_prepared_statements
             where statement like ${"%select 1 as found%"}`,
      );
      suspectPrepared = prepared?.n ?? -1;
      // One look, as the process that opened the database takes them.
      const query: RunQuery = async (text, params) => {
        const driver = (db as unknown as { $client: PGlite | pg.ClientBase }).$client;
        const result =
          driver instanceof PGlite
            ? await driver.query(text, params)
            : await driver.query(text, params);
        return result.rows as never[];
      };
      expect(await analyzeIfDue(query, kind, analyzeMemory())).toContain("usage_events");
      const found: Record<string, string> = {};
      for (const [name, statement] of Object.entries(statements)) {
        found[name] = await cachedPlanOf(db, name, statement());
      }
      return found;
    });
  });
  afterAll(() => database?.close());

  it("the suspect check is never prepared, and reads no whole table of the grown outbox", () => {
    expect(suspectPrepared).toBe(0);
    expect(seqScansOf(suspectPlan, "usage_events")).toEqual([]);
  });

  for (const name of Object.keys(statements)) {
    it(`${name} no longer reads usage_events whole once the outbox grew`, () => {
      expect(seqScansOf(plans[name] ?? "", "usage_events")).toEqual([]);
    });
  }
});
