import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { ATTEMPT_HISTORY } from "../../src/outbox/attempt-history.ts";
import { claim } from "../../src/outbox/claim.ts";
import { extendLeases } from "../../src/outbox/extend-leases.ts";
import { release } from "../../src/outbox/release.ts";
import { type SettleRow, settle } from "../../src/outbox/settle.ts";
import { wakeWaiting } from "../../src/outbox/wake.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { delivered } from "./fixtures.ts";
import { insertEvents } from "./seed.ts";

const lease = { leaseMs: 60_000, limit: 10 };

describe.each(backends)("outbox statements on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(() => database.close());
  beforeEach(async () => {
    await database.db.delete(usageEvents);
    await database.db.delete(usageEventAttempts);
    const occurredAt = new Date();
    await insertEvents(
      database.db,
      ["a", "b", "c"].map((id, i) => ({
        id,
        customerKey: "acme",
        eventName: "api_calls",
        value: 1,
        occurredAt,
        nextAttemptAt: new Date(Date.now() - (3 - i) * 1000),
      })),
    );
  });

  it("claim leases due events oldest first, once: a second claim finds them taken", async () => {
    const first = await claim(database.db, { owner: "w1", ...lease });
    expect(first.events.map((e) => e.id)).toEqual(["a", "b", "c"]);
    expect(first.events.every((e) => e.claims === 1)).toBe(true);
    expect(first.dbNow).toBeInstanceOf(Date);
    const second = await claim(database.db, { owner: "w2", ...lease });
    expect(second.events).toEqual([]);
  });

  it("claim skips events not yet due and events no longer pending", async () => {
    await database.db
      .update(usageEvents)
      .set({ nextAttemptAt: sql`now() + interval '1 hour'` })
      .where(eq(usageEvents.id, "a"));
    await database.db.update(usageEvents).set({ status: "failed" }).where(eq(usageEvents.id, "b"));
    const { events } = await claim(database.db, { owner: "w1", ...lease });
    expect(events.map((e) => e.id)).toEqual(["c"]);
  });

  it("an expired lease is claimable again: a dead worker's events are rescued", async () => {
    await claim(database.db, { owner: "dead", leaseMs: 1, limit: 10 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const rescued = await claim(database.db, { owner: "w2", ...lease });
    expect(rescued.events.map((e) => e.id)).toEqual(["a", "b", "c"]);
    expect(rescued.events.every((e) => e.claims === 2)).toBe(true);
  });

  it("settle writes the outcome and the attempt row, guarded by owner, attempts and claim", async () => {
    const { events } = await claim(database.db, { owner: "w1", ...lease });
    const [a, b] = events;
    if (!a || !b) throw new Error("expected two events");
    const settled = await settle(database.db, "w1", [
      delivered(a),
      // Another worker's settle (it lost its lease) and a stale claim number must not win.
      { ...delivered(b), claims: b.claims - 1 },
    ]);
    expect([...settled]).toEqual(["a"]);
    const after = await database.db.select().from(usageEvents).orderBy(usageEvents.id);
    expect(after.map((e) => [e.id, e.status, e.attempts, e.leaseOwner])).toEqual([
      ["a", "reported", 1, null],
      ["b", "pending", 0, "w1"],
      ["c", "pending", 0, "w1"],
    ]);
    // Both tables: the two deliveries may share one request's row (attempt-history.ts).
    const attempts = await rows<{ event_id: string; attempt: number; outcome: string }>(
      database.db,
      sql`select event_id, attempt, outcome from ${ATTEMPT_HISTORY} a order by id`,
    );
    expect(attempts.map((r) => [r.event_id, r.attempt, r.outcome])).toEqual([
      ["a", 1, "delivered"],
      ["b", 0, "lease_lost"],
    ]);
    const wrongOwner = await settle(database.db, "w2", [delivered(b)]);
    expect(wrongOwner.size).toBe(0);
  });

  it("settle of a pending outcome schedules the next attempt by the database clock", async () => {
    const { events } = await claim(database.db, { owner: "w1", ...lease });
    const a = events[0];
    if (!a) throw new Error("expected an event");
    const retry: SettleRow = {
      ...delivered(a),
      status: "pending",
      delayMs: 3_600_000,
      waitReason: "retry",
      stripeRequestId: null,
      error: { code: "http_500", message: "500", httpStatus: 500, requestId: "req_5" },
      firstAmbiguousAt: new Date(),
    };
    await settle(database.db, "w1", [retry]);
    const [row] = await rows<{ due_in_min: number; wait_reason: string; code: string }>(
      database.db,
      sql`select (extract(epoch from next_attempt_at - now()) / 60)::float8 as due_in_min,
            wait_reason, last_error_code as code from usage_events where id = 'a'`,
    );
    expect(row?.due_in_min).toBeGreaterThan(59);
    expect(row?.wait_reason).toBe("retry");
    expect(row?.code).toBe("http_500");
  });

  it("release gives leases back without counting an attempt or writing an attempt row", async () => {
    const { events } = await claim(database.db, { owner: "w1", ...lease });
    expect(await release(database.db, "w1", events, { waitReason: "account_halted" })).toBe(3);
    const after = await database.db.select().from(usageEvents);
    expect(after.every((e) => e.leaseOwner === null && e.attempts === 0)).toBe(true);
    expect(after.every((e) => e.waitReason === "account_halted")).toBe(true);
    expect(await database.db.select().from(usageEventAttempts)).toEqual([]);
    const again = await claim(database.db, { owner: "w2", ...lease });
    expect(again.events).toHaveLength(3);
  });

  it("extendLeases renews only this owner's leases", async () => {
    const { events } = await claim(database.db, { owner: "w1", leaseMs: 1_000, limit: 10 });
    const ids = events.map((e) => e.id);
    expect(await extendLeases(database.db, "w2", ids, 60_000)).toBe(0);
    expect(await extendLeases(database.db, "w1", ids, 60_000)).toBe(3);
  });

  it("wakeWaiting makes a customer's waiting events due now", async () => {
    await database.db
      .update(usageEvents)
      .set({ nextAttemptAt: sql`now() + interval '1 hour'`, waitReason: "customer_unlinked" });
    expect(await wakeWaiting(database.db, { customerKey: "acme" }, ["meter_unknown"])).toBe(0);
    expect(await wakeWaiting(database.db, { customerKey: "acme" }, ["customer_unlinked"])).toBe(3);
    expect((await claim(database.db, { owner: "w1", ...lease })).events).toHaveLength(3);
  });
});
