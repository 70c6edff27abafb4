import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { asyncReject } from "../../src/outbox/async-reject.ts";
import { claim } from "../../src/outbox/claim.ts";
import { settle } from "../../src/outbox/settle.ts";
import { describeOnPostgres, freshDatabase } from "../support/db.ts";
import { heldTransaction, waitsOnLock } from "../support/held-transaction.ts";
import { insertDueEvents, oneRequest, recordRejections } from "./shared-request.ts";

/**
 * Two statements taking events of one shared request row at once, interleaved by hand on two
 * connections (outbox/request-rows.ts). Both asynchronous rejections here; retention takes
 * events away through the same CTEs. However they interleave, the row's count must end at what
 * still names it, and a row nothing names must go.
 */
describeOnPostgres("two statements releasing one request row at once", () => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase("postgres");
  });
  afterAll(() => database?.close());

  it("the statement that takes the last events deletes the row, though the other changed it meanwhile", async () => {
    const { db } = database;
    const ids = ["a", "b", "c", "d"];
    await insertDueEvents(db, ids);
    const { events } = await claim(db, { owner: "w1", leaseMs: 60_000, limit: 10 });
    await settle(db, "w1", oneRequest(events));
    const requestRows = () =>
      rows<{ events: number }>(db, sql`select events from usage_event_requests`);
    expect(await requestRows()).toEqual([{ events: 4 }]);
    await recordRejections(db, ids);

    // The first rejection (of b) takes its share of the row, then is held open before its commit.
    const first = await heldTransaction(db, (tx) => asyncReject(tx, ["b"]));
    // The second (of the other three) read the row's count as it was before the first: it must
    // wait for the first, then take the row's last events and delete it.
    const second = asyncReject(db, ["a", "c", "d"]);
    expect(await waitsOnLock(db, second)).toBe(true);

    first.commit();
    expect((await first.committed).failed).toEqual(["b"]);
    expect((await second).failed.sort()).toEqual(["a", "c", "d"]);

    const named = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from usage_events where delivered_by is not null`,
    );
    expect(named).toEqual([{ n: 0 }]);
    expect(await requestRows()).toEqual([]);
    // Each event kept its delivery as a row of its own.
    const own = await rows<{ n: number }>(
      db,
      sql`select count(*)::int as n from usage_event_attempts where outcome = 'delivered'`,
    );
    expect(own).toEqual([{ n: 4 }]);
  });
});
