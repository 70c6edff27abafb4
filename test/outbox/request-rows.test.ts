import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import {
  asyncRejections,
  usageEventAttempts,
  usageEventClaims,
  usageEventRequests,
  usageEvents,
} from "../../src/db/schema/index.ts";
import { getEventTrace } from "../../src/ingest/event-trace.ts";
import { asyncReject } from "../../src/outbox/async-reject.ts";
import { type ClaimedEvent, claim } from "../../src/outbox/claim.ts";
import { type SettleRow, settle } from "../../src/outbox/settle.ts";
import { delivered } from "../reporter/fixtures.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { insertDueEvents, oneRequest, recordRejections } from "./shared-request.ts";

/**
 * Attempt rows per request: the events of one request delivered together share one audit row
 * (usage_event_requests), and each names it; trace still shows every event's attempt as its own.
 */
describe.each(backends)("a request's shared attempt row on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database?.close());
  beforeEach(async () => {
    const { db } = database;
    for (const t of [usageEvents, usageEventAttempts, usageEventRequests, usageEventClaims]) {
      await db.delete(t);
    }
    await db.delete(asyncRejections);
    await insertDueEvents(db, ["a", "b", "c", "d"]);
  });

  const claimAll = async () =>
    (await claim(database.db, { owner: "w1", leaseMs: 60_000, limit: 10 })).events;

  const requestRows = () =>
    rows<{ id: number; events: number; request_id: string; outcome: string; worker: string }>(
      database.db,
      sql`select id::int, events, request_id, outcome, worker from usage_event_requests order by id`,
    );
  const ownRows = () =>
    rows<{ event_id: string; outcome: string }>(
      database.db,
      sql`select event_id, outcome from usage_event_attempts order by event_id, id`,
    );
  const historyOf = async (id: string) =>
    (await getEventTrace(database.db, id))?.history.map((h) => ({
      attempt: h.attempt,
      outcome: h.outcome,
      worker: h.worker,
      request_id: h.request_id,
    }));

  it("writes one row for a request's delivered events, which each name; trace shows it as theirs", async () => {
    const events = await claimAll();
    expect(events).toHaveLength(4);
    const settled = await settle(database.db, "w1", oneRequest(events));
    expect(settled.size).toBe(4);

    const [shared, ...more] = await requestRows();
    expect(more).toEqual([]);
    expect(shared).toMatchObject({
      events: 4,
      request_id: "req_shared",
      outcome: "delivered",
      worker: "w1",
    });
    expect(await ownRows()).toEqual([]);
    const named = await rows<{ id: string; delivered_by: number; status: string }>(
      database.db,
      sql`select id, delivered_by::int, status from usage_events order by id`,
    );
    expect(named.map((r) => [r.id, r.delivered_by, r.status])).toEqual(
      ["a", "b", "c", "d"].map((id) => [id, shared?.id, "reported"]),
    );
    for (const id of ["a", "d"]) {
      expect(await historyOf(id)).toEqual([
        { attempt: 1, outcome: "delivered", worker: "w1", request_id: "req_shared" },
      ]);
    }
  });

  it("keeps a row per event where nothing is shared: a request of one event, other outcomes, a lost lease", async () => {
    const events = await claimAll();
    const [a, b, c, d] = events as [ClaimedEvent, ClaimedEvent, ClaimedEvent, ClaimedEvent];
    const retry: SettleRow = {
      ...delivered(c),
      status: "pending",
      counted: true,
      delayMs: 1_000,
      waitReason: "retry",
      stripeRequestId: null,
      error: { code: "api_error", message: "500", httpStatus: 500, requestId: "req_c" },
      attempt: {
        outcome: "retry",
        httpStatus: 500,
        stripeCode: "api_error",
        requestId: "req_c",
        message: "500",
        startedAt: new Date(),
      },
    };
    // b's lease is lost: another claim has taken it since (its claims count moved on).
    await rows(database.db, sql`update usage_events set claims = claims + 1 where id = 'b'`);
    const batch = [
      ...oneRequest([a, b], "req_ab"),
      ...oneRequest([d], "req_d"),
      retry,
    ] satisfies SettleRow[];
    const settled = await settle(database.db, "w1", batch);
    expect([...settled].sort()).toEqual(["a", "c", "d"]);

    // The request of a and b shared its row, which names only what it settled: a.
    expect(await requestRows()).toMatchObject([{ events: 1, request_id: "req_ab" }]);
    expect(await ownRows()).toEqual([
      { event_id: "b", outcome: "lease_lost" },
      { event_id: "c", outcome: "retry" },
      { event_id: "d", outcome: "delivered" },
    ]);
    expect(await historyOf("d")).toEqual([
      { attempt: 1, outcome: "delivered", worker: "w1", request_id: "req_d" },
    ]);
  });

  it("gives a delivery Stripe rejected later its own row again, in its place, and drops the request row with its last event", async () => {
    const events = await claimAll();
    await settle(database.db, "w1", oneRequest(events));
    const [shared] = await requestRows();
    const reject = async (ids: string[]) => {
      await recordRejections(database.db, ids);
      return asyncReject(database.db, ids);
    };

    expect((await reject(["b"])).failed).toEqual(["b"]);
    expect(await historyOf("b")).toEqual([
      { attempt: 1, outcome: "delivered", worker: "w1", request_id: "req_shared" },
      { attempt: 1, outcome: "async_rejected", worker: "stripe", request_id: null },
    ]);
    // The copy keeps the request row's id: the delivery still sorts before the rejection.
    const [copy] = await rows<{ id: number }>(
      database.db,
      sql`select id::int from usage_event_attempts where event_id = 'b' and outcome = 'delivered'`,
    );
    expect(copy?.id).toBe(shared?.id);
    expect(await requestRows()).toMatchObject([{ id: shared?.id, events: 3 }]);
    expect(await historyOf("a")).toEqual([
      { attempt: 1, outcome: "delivered", worker: "w1", request_id: "req_shared" },
    ]);

    expect((await reject(["a", "c", "d"])).failed.sort()).toEqual(["a", "c", "d"]);
    expect(await requestRows()).toEqual([]);
    expect(await historyOf("d")).toEqual([
      { attempt: 1, outcome: "delivered", worker: "w1", request_id: "req_shared" },
      { attempt: 1, outcome: "async_rejected", worker: "stripe", request_id: null },
    ]);
  });

  it("does not share a delivery Stripe had already rejected: that event's row is its own", async () => {
    const events = await claimAll();
    await recordRejections(database.db, ["c"]);
    await settle(database.db, "w1", oneRequest(events));
    expect(await requestRows()).toMatchObject([{ events: 3 }]);
    expect(await ownRows()).toEqual([{ event_id: "c", outcome: "async_rejected" }]);
    const [c] = await rows<{ status: string; delivered_by: number | null }>(
      database.db,
      sql`select status, delivered_by from usage_events where id = 'c'`,
    );
    expect(c).toEqual({ status: "failed", delivered_by: null });
  });
});
