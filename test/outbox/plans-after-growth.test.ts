import { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  analyzeIfDue,
  analyzeMemory,
  type RunQuery,
  unattendedTables,
} from "../../src/db/auto-analyze.ts";
import type { Database } from "../../src/db/connect.ts";
import { preparedRows } from "../../src/db/prepared.ts";
import { rows } from "../../src/db/rows.ts";
import { sqlClient } from "../../src/db/sql-client.ts";
import type { EventInput } from "../../src/ingest/event-input.ts";
import {
  INSERT_NEW_EVENTS_NAME,
  INSERT_NEW_EVENTS_SQL,
  INSERT_ONE_EVENT_NAME,
  INSERT_ONE_EVENT_SQL,
  insertEventsParams,
  insertOneEventParams,
} from "../../src/ingest/insert-events-sql.ts";
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
import { customersStatement } from "../../src/reporter/lookups.ts";
import { delivered } from "../reporter/fixtures.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { cachedPlanOf, executeArguments, planOf, seqScansOf } from "../support/plans.ts";

// A prepared statement keeps its plan until a table it reads is analyzed, whatever the table has
// become. A worker that starts on an empty outbox prepares its statements there, and planned for
// an empty table they read it whole. On PGlite, and on a server whose autovacuum is off, only
// Meterline's own analyze (db/auto-analyze.ts) makes them plan again; the suspect check, which
// has no parameter (one plan, made at its first run), is planned at every run instead.
/** A look's queries on the one connection of `db` (withAdvisoryLock's handle, or PGlite's). */
function driverQuery(db: Database["db"]): RunQuery {
  return async (text, params) => {
    const driver = (db as unknown as { $client: PGlite | pg.ClientBase }).$client;
    const result =
      driver instanceof PGlite
        ? await driver.query(text, params)
        : await driver.query(text, params);
    return result.rows as never[];
  };
}

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
      expect(
        await analyzeIfDue(
          driverQuery(db),
          await unattendedTables(driverQuery(db), kind),
          analyzeMemory(),
        ),
      ).toContain("usage_events");
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

// The same for what looks customers up: the worker's pre-flight lookup and both ingest
// statements, prepared while the platform had five customers, then run once it has 20,000.
describe.each(backends)("statements prepared while there were five customers, on %s", (kind) => {
  let database: Database;
  let plans: Record<string, string> = {};
  beforeAll(async () => {
    database = await freshDatabase(kind);
    await rows(database.db, sql`insert into meters (event_name) values ('api_calls')`);
    await rows(
      database.db,
      sql`insert into customers (key) select 'cus-' || g from generate_series(1, 5) g`,
    );
    await rows(database.db, sql`analyze`);
    let n = 0;
    const event = (customer: string): EventInput => ({
      index: 0,
      id: `evt-${n++}`,
      customer,
      eventName: "api_calls",
      value: 1,
      occurredAt: new Date(),
      occurredAtDefaulted: false,
    });
    const batch = () => [event("cus-1"), event("cus-2"), event("cus-3")];
    plans = await database.withAdvisoryLock(4_244, async (db) => {
      const client = sqlClient(db);
      for (let i = 0; i < 8; i++) {
        await preparedRows(db, "meterline_lookup_customers", customersStatement(["cus-1"]));
        await client.query(
          INSERT_NEW_EVENTS_NAME,
          INSERT_NEW_EVENTS_SQL,
          insertEventsParams(batch()),
        );
        await client.query(
          INSERT_ONE_EVENT_NAME,
          INSERT_ONE_EVENT_SQL,
          insertOneEventParams(event("cus-1")),
        );
      }
      await rows(
        db,
        sql`insert into customers (key) select 'cus-' || g from generate_series(6, 20000) g`,
      );
      await analyzeIfDue(
        driverQuery(db),
        await unattendedTables(driverQuery(db), kind),
        analyzeMemory(),
      );
      const explain = async (text: string) =>
        JSON.stringify(await rows(db, sql.raw(`explain (format json) ${text}`)));
      return {
        "the pre-flight lookup": await cachedPlanOf(
          db,
          "meterline_lookup_customers",
          customersStatement(["cus-1"]),
        ),
        "a batch's ingest": await explain(
          `execute ${INSERT_NEW_EVENTS_NAME}${executeArguments(insertEventsParams(batch()))}`,
        ),
        "one event's ingest": await explain(
          `execute ${INSERT_ONE_EVENT_NAME}${executeArguments(insertOneEventParams(event("cus-1")))}`,
        ),
      };
    });
  });
  afterAll(() => database?.close());

  for (const name of ["the pre-flight lookup", "a batch's ingest", "one event's ingest"]) {
    it(`${name} no longer reads customers whole once there are thousands`, () => {
      expect(seqScansOf(plans[name] ?? "", "customers")).toEqual([]);
    });
  }
});
