import { sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttachSpec } from "../../src/attach/source-rows.ts";
import { takeBatch } from "../../src/attach/take-batch.ts";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import {
  backends,
  describeOnPostgres,
  emptyPostgresDatabase,
  freshDatabase,
} from "../support/db.ts";

// The source is a Postgres table read over a connection of its own, as in production, so the
// suite needs a Postgres server; Meterline's own database is each engine in turn (`npm start`
// keeps PGlite), in a database apart from the source's.
describeOnPostgres("attach's batch", () => {
  describe.each(backends)("into %s", (kind) => {
    let database: Database;
    let source: pg.Client;
    let dropSource: () => Promise<void>;
    const spec: AttachSpec = {
      name: "t",
      table: "src_usage",
      idColumn: "id",
      customerColumn: "customer",
      eventName: { column: "kind" },
      valueColumn: "amount",
      timeColumn: null,
      followColumn: "id",
      where: null,
    };
    const options = { batch: 3, owner: "test", limits: { maxFutureMinutes: 60 } };

    beforeAll(async () => {
      database = await freshDatabase(kind);
      const target = await emptyPostgresDatabase();
      dropSource = target.drop;
      source = new pg.Client({ connectionString: target.url });
      await source.connect();
      await database.db.execute(sql`insert into customers (key) values ('acme')`);
      await database.db.execute(sql`insert into customers (key, status) values ('old', 'deleted')`);
      await database.db.execute(sql`insert into meters (event_name) values ('api_calls')`);
      await source.query(
        `create table src_usage (id int primary key, customer text, kind text, amount numeric)`,
      );
      await source.query(`insert into src_usage values
      (1, 'acme', 'api_calls', 2), (2, 'old', 'api_calls', 1), (3, 'acme', 'nope', 1),
      (4, 'acme', 'api_calls', 1.5), (5, 'acme', 'api_calls', 4)`);
    });

    afterAll(async () => {
      await source?.end();
      await dropSource?.();
      await database?.close();
    });

    const take = () => database.withAdvisoryLock(1, (db) => takeBatch(db, source, spec, options));

    it("takes batches in order, refuses rows by id with their reason, and reads nothing twice", async () => {
      expect(await take()).toMatchObject({ read: 3, stored: 1 });
      const second = await take();
      expect(second).toMatchObject({ read: 2, stored: 1 });
      expect(second.refused).toEqual([
        { rowId: "4", code: "invalid_value", message: expect.stringContaining("value must be") },
      ]);
      expect(await take()).toEqual({ read: 0, stored: 0, refused: [] });
      const refused = await rows(
        database.db,
        sql`select row_id, code from attach_refusals order by row_id`,
      );
      expect(refused).toEqual([
        { row_id: "2", code: "customer_deleted" },
        { row_id: "3", code: "unknown_event_name" },
        { row_id: "4", code: "invalid_value" },
      ]);
    });

    it("after the checkpoint is reset, stored rows are duplicates and a changed row is refused as a conflict", async () => {
      await database.db.execute(
        sql`update attach_checkpoints set last_follow = null, last_id = null`,
      );
      await source.query(`update src_usage set amount = 9 where id = 5`);
      expect(await take()).toMatchObject({ read: 3, stored: 0 });
      const second = await take();
      expect(second.stored).toBe(0);
      expect(second.refused.map((r) => [r.rowId, r.code])).toEqual([
        ["4", "invalid_value"],
        ["5", "conflicting_event"],
      ]);
      const stored = await rows(
        database.db,
        sql`select id, value::int from usage_events order by id`,
      );
      expect(stored).toEqual([
        { id: "att:t:1", value: 2 },
        { id: "att:t:5", value: 4 },
      ]);
    });
  });
});
