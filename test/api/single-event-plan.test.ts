import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import { sqlClient } from "../../src/db/sql-client.ts";
import type { EventInput } from "../../src/ingest/event-input.ts";
import { INSERT_ONE_EVENT_NAME } from "../../src/ingest/insert-events-sql.ts";
import { storeEvents } from "../../src/ingest/store-events.ts";
import { backends, emptyPostgresDatabase, freshDatabase } from "../support/db.ts";
import { seed } from "./harness.ts";

/**
 * A single event's statement is planned once per connection, not once per request: Postgres
 * re-plans a prepared statement on each call for as long as its custom plans look cheaper than
 * the generic one, and for one event in array parameters they did on a connection that served
 * only single events (~140 µs of the server's CPU per request). One connection, so that every
 * call meets the same prepared statement (a pool would spread them over several).
 */
describe.each(backends)("the single-event statement on %s", (kind) => {
  let database: Database;
  let drop = async () => {};
  beforeAll(async () => {
    if (kind === "pglite") database = await freshDatabase("pglite");
    else {
      const empty = await emptyPostgresDatabase();
      drop = empty.drop;
      database = await openDatabase({ url: empty.url, poolSize: 1 });
      await migrate(database);
    }
    await seed(database.db, { customers: ["acme"], deleted: ["gone"], meters: ["api_calls"] });
  });
  afterAll(async () => {
    await database?.close();
    await drop();
  });

  const one = (id: string, customer = "acme"): EventInput => ({
    index: 0,
    id,
    customer,
    eventName: "api_calls",
    value: 1,
    occurredAt: new Date("2025-02-01T08:00:00Z"),
    occurredAtDefaulted: false,
  });

  it("keeps its generic plan after the fifth call, and refuses as the batch statement does", async () => {
    for (let i = 0; i < 12; i++) {
      expect(await storeEvents(database.db, [one(`plan-${i}`)], { batch: false })).toEqual({
        accepted: 1,
        duplicates: 0,
      });
    }
    const [plans] = await sqlClient(database.db).query<{ generic: number; custom: number }>(
      "test_prepared_plans",
      "select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where name = $1",
      [INSERT_ONE_EVENT_NAME],
    );
    // Postgres tries five custom plans before it weighs the generic one.
    expect(plans).toEqual({ custom: 5, generic: 7 });

    // The same statement answers a replay, a deleted customer and an unknown one.
    expect(await storeEvents(database.db, [one("plan-3")], { batch: false })).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    await expect(
      storeEvents(database.db, [one("plan-gone", "gone")], { batch: false }),
    ).rejects.toMatchObject({ code: "customer_deleted" });
    await expect(
      storeEvents(database.db, [one("plan-nobody", "nobody")], { batch: false }),
    ).rejects.toMatchObject({ code: "unknown_customer" });
  });
});
