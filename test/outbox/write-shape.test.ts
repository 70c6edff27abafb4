import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database, Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { workers } from "../../src/db/schema/workers.ts";
import { claim } from "../../src/outbox/claim.ts";
import { extendLeases } from "../../src/outbox/extend-leases.ts";
import { markSent } from "../../src/outbox/mark-sent.ts";
import { settle } from "../../src/outbox/settle.ts";
import { registerWorker } from "../../src/outbox/workers.ts";
import { delivered } from "../reporter/fixtures.ts";
import { insertEvents } from "../reporter/seed.ts";
import { backends, freshDatabase } from "../support/db.ts";

/**
 * The shape of the outbox's writes (issue 8): which updates stay HOT (one WAL record on the
 * row's page, no index entry) and which indexes exist, with their predicates. A new index that
 * names first_sent_at or lease_expires_at, or an index over every row, turns up here.
 */
describe.each(backends)("outbox write shape on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    await database.db.delete(usageEvents);
    await database.db.delete(usageEventAttempts);
    await database.db.delete(workers);
    await insertEvents(database.db, [
      { id: "e1", customerKey: "acme", eventName: "api_calls", value: 1, occurredAt: new Date() },
    ]);
  });

  /** This backend's counts of usage_events updates, and of those that were HOT. */
  async function updateCounters(db: Db): Promise<{ updated: number; hot: number }> {
    const [row] = await rows<{ updated: number; hot: number }>(
      db,
      sql`select pg_stat_get_xact_tuples_updated('usage_events'::regclass)::int as updated,
                 pg_stat_get_xact_tuples_hot_updated('usage_events'::regclass)::int as hot`,
    );
    return { updated: row?.updated ?? -1, hot: row?.hot ?? -1 };
  }

  it("mark-sent and a heartbeat change no indexed column: both are HOT updates", async () => {
    const { events } = await claim(database.db, { owner: "w1", leaseMs: 60_000, limit: 10 });
    const [event] = events;
    if (!event) throw new Error("nothing claimed");
    const counts = await database.db.transaction(async (tx) => {
      const db = tx as unknown as Db;
      // The counters also hold updates not yet flushed to the shared statistics: take a delta.
      const before = await updateCounters(db);
      expect((await markSent(db, "w1", [event])).has("e1")).toBe(true);
      expect(await extendLeases(db, "w1", ["e1"], 60_000)).toBe(1);
      const after = await updateCounters(db);
      return { updated: after.updated - before.updated, hot: after.hot - before.hot };
    });
    expect(counts).toEqual({ updated: 2, hot: 2 });
    // The settle that follows is still guarded by the same lease and claim.
    expect(await settle(database.db, "w1", [delivered(event)])).toEqual(new Set(["e1"]));
  });

  it("a stream event's claim is a HOT update, and a lone worker's v1 claim; with another worker alive, a v1 event's enters the leased pairs' index", async () => {
    await database.db.delete(meters);
    await database.db.insert(meters).values({ eventName: "tokens", deliveryMode: "meter_stream" });
    await insertEvents(database.db, [
      { id: "s1", customerKey: "acme", eventName: "tokens", value: 1, occurredAt: new Date() },
      { id: "e2", customerKey: "zeta", eventName: "api_calls", value: 1, occurredAt: new Date() },
    ]);
    const claimOne = (id: string) =>
      database.db.transaction(async (tx) => {
        const db = tx as unknown as Db;
        // Only `id` is due (moving the others is not part of the claim's count).
        await db.execute(sql`update usage_events set next_attempt_at = case when id = ${id}
                               then now() - interval '1 minute' else now() + interval '1 hour' end`);
        const before = await updateCounters(db);
        const { events } = await claim(db, { owner: "w1", leaseMs: 60_000, limit: 10 });
        const after = await updateCounters(db);
        expect(events.map((e) => e.id)).toEqual([id]);
        return { updated: after.updated - before.updated, hot: after.hot - before.hot };
      });
    expect(await claimOne("s1")).toEqual({ updated: 1, hot: 1 });
    // w1 is the only worker alive: no other worker reads its pairs (outbox/claim.ts pairOwner).
    expect(await claimOne("e1")).toEqual({ updated: 1, hot: 1 });
    await registerWorker(database.db, { id: "w2", host: "h", pid: 2 });
    expect(await claimOne("e2")).toEqual({ updated: 1, hot: 0 });
    const owners = await rows<{ id: string; pair_owner: string | null }>(
      database.db,
      sql`select id, pair_owner from usage_events order by id`,
    );
    expect(owners).toEqual([
      { id: "e1", pair_owner: null },
      { id: "e2", pair_owner: "w1" },
      { id: "s1", pair_owner: null },
    ]);
  });

  it("usage_events has only the indexes a hot or an operator query reads, and room for HOT", async () => {
    const indexes = await rows<{ name: string; def: string }>(
      database.db,
      sql`select indexname::text as name, indexdef::text as def from pg_indexes
          where tablename = 'usage_events' order by indexname`,
    );
    const shape = Object.fromEntries(
      indexes.map((i) => [i.name, i.def.replace(/^.* USING (btree )?/, "").replace(/::text/g, "")]),
    );
    expect(shape).toEqual({
      usage_events_customer_idx: "(customer_key, status, occurred_at)",
      usage_events_dead_letter_idx: "(last_error_code, failed_at) WHERE (status = 'failed')",
      // None names a lease column (lease_owner, lease_expires_at, claims, open_claims): a
      // stream claim stays HOT.
      usage_events_due_idx:
        "(next_attempt_at) WHERE ((status = 'pending') AND (pair_owner IS NULL))",
      usage_events_leased_idx:
        "(customer_key, event_name) WHERE ((status = 'pending') AND (pair_owner IS NOT NULL))",
      usage_events_pkey: "(id)",
      // The dashboard's throughput (ops/throughput.ts): settle changes status anyway, so it
      // costs no HOT update, and BRIN adds a write only when a range's summary widens.
      usage_events_reported_brin:
        "brin (reported_at) WITH (autosummarize='on') WHERE (status = 'reported')",
    });
    const [options] = await rows<{ options: string[] | null }>(
      database.db,
      sql`select reloptions as options from pg_class where relname = 'usage_events'`,
    );
    expect(options?.options).toEqual(["fillfactor=50"]);
  });

  it("an attempt row costs one index entry: its key (event_id, id), which trace reads", async () => {
    const indexes = await rows<{ name: string; def: string }>(
      database.db,
      sql`select indexname::text as name, indexdef::text as def from pg_indexes
          where tablename = 'usage_event_attempts'`,
    );
    expect(indexes.map((i) => [i.name, i.def.replace(/^.* USING btree /, "")])).toEqual([
      ["usage_event_attempts_pkey", "(event_id, id)"],
    ]);
  });
});
