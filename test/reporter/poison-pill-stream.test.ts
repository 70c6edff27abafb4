import { sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { backends } from "../support/db.ts";
import {
  attemptOutcomes,
  declareMeter,
  linkedCustomers,
  pendingCount,
  reportedSums,
  reporterAllModes,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, type SeedEvent, statusCounts, waitFor } from "./seed.ts";

const DAY = 24 * 3_600_000;

/** Events per stream request, as the SDK was called. */
function batchSizes(spy: { mock: { calls: unknown[][] } }): number[] {
  return spy.mock.calls.map((call) => {
    const params = call[0] as { events: unknown[] };
    return params.events.length;
  });
}

describe.each(backends)("the v2 meter event stream, on %s, against the emulator", (kind) => {
  const suite = reporterSuite(kind);

  it("poison pills at the head of the queue: 2,000 healthy events go in batches of ≤ 100 and are each counted once; every poison event is dead-lettered with its reason before a request", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "api_calls", "meter_stream");
    const healthy = await linkedCustomers(db, stripe, "cust", 50);
    const gone = await linkedCustomers(db, stripe, "gone", 2);
    await db
      .update(customers)
      .set({ status: "deleted", deletedAt: new Date() })
      .where(sql`${customers.key} like 'gone-%'`);

    const now = Date.now();
    const head = new Date(now - 3_600_000);
    const poison: Array<SeedEvent & { reason: string }> = [];
    for (let i = 0; i < 7; i++) {
      poison.push({
        id: `poison-deleted-${i}`,
        customerKey: gone[i % 2]?.key ?? "gone-0",
        eventName: "api_calls",
        value: 1_000,
        occurredAt: new Date(now - 60_000),
        nextAttemptAt: head,
        reason: "customer_deleted",
      });
      poison.push({
        id: `poison-old-${i}`,
        customerKey: "cust-0",
        eventName: "api_calls",
        value: 1_000,
        occurredAt: new Date(now - 40 * DAY),
        nextAttemptAt: head,
        reason: "timestamp_too_old",
      });
    }
    // Ids Stripe's stream would refuse for the WHOLE request: pre-flight must stop them.
    for (let i = 0; i < 6; i++) {
      poison.push({
        id: `poison-long-${i}-${"x".repeat(120)}`,
        customerKey: `cust-${i}`,
        eventName: "api_calls",
        value: 1_000,
        occurredAt: new Date(now - 60_000),
        nextAttemptAt: head,
        reason: "identifier_too_long",
      });
    }
    const good: SeedEvent[] = Array.from({ length: 2_000 }, (_, i) => ({
      id: `evt-${i}`,
      customerKey: healthy[i % 50]?.key ?? "cust-0",
      eventName: "api_calls",
      value: (i % 7) + 1,
      occurredAt: new Date(now - (i % 600) * 1000),
    }));
    await insertEvents(
      db,
      poison.map(({ reason: _r, ...e }) => e),
    );
    await insertEvents(db, good);

    const spy = vi.spyOn(stripe.v2.billing.meterEventStream, "create");
    const r = reporterAllModes(db, stripe, testSettings({ batchSize: 500 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
      await r.drained();
    } finally {
      await r.stop();
    }
    const sizes = batchSizes(spy);
    spy.mockRestore();

    expect(await statusCounts(db)).toEqual({ reported: 2_000, failed: 20 });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2_000);
    // Batched for real: far fewer requests than events.
    expect(sizes.length).toBeLessThan(200);

    const ledger = emu.ledger();
    expect(ledger.totals).toEqual(await reportedSums(db));
    expect(ledger.events).toHaveLength(2_000);
    expect(new Set(ledger.events.map((e) => e.identifier)).size).toBe(2_000);
    expect(ledger.events.every((e) => e.counted)).toBe(true);

    const failed = await rows<{ id: string; code: string; message: string; attempts: number }>(
      db,
      sql`select id, last_error_code as code, last_error_message as message, attempts
          from usage_events where status = 'failed' order by id`,
    );
    const reasons = new Map(poison.map((p) => [p.id, p.reason]));
    for (const f of failed) {
      expect(f.code, f.id).toBe(reasons.get(f.id));
      expect(f.message.length, f.id).toBeGreaterThan(40);
      expect(f.attempts, f.id).toBe(0);
    }
    expect(failed.map((f) => f.id).sort()).toEqual([...reasons.keys()].sort());
  });

  it("a session Stripe expires (its clock jumps 15 minutes) is refreshed and the batch resent: nothing is charged an attempt", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    const [c] = await linkedCustomers(db, stripe, "refresh", 1);
    if (!c) throw new Error("no customer");
    const batch = (from: number) =>
      Array.from({ length: 30 }, (_, i) => ({
        id: `refresh-${from + i}`,
        customerKey: c.key,
        eventName: "api_calls",
        value: 1,
        occurredAt: new Date(Date.now() - 60_000),
      }));
    const sessions = vi.spyOn(stripe.v2.billing.meterEventSession, "create");
    const r = reporterAllModes(db, stripe, testSettings());
    try {
      await insertEvents(db, batch(0));
      await waitFor("the first batch", async () => (await pendingCount(db)) === 0);
      emu.advanceClock(15 * 60);
      await insertEvents(db, batch(30));
      await waitFor("the second batch", async () => (await pendingCount(db)) === 0);
      await r.drained();
    } finally {
      await r.stop();
      emu.advanceClock(-15 * 60);
    }
    const created = sessions.mock.calls.length;
    sessions.mockRestore();
    expect(created).toBe(2);
    const [mine] = await rows<{ reported: number; attempts: number }>(
      db,
      sql`select count(*)::int as reported, sum(attempts)::int as attempts from usage_events
          where id like 'refresh-%' and status = 'reported'`,
    );
    expect(mine).toEqual({ reported: 60, attempts: 60 });
    expect((await attemptOutcomes(db)).session_expired).toBeUndefined();
    const held = emu.ledger().events.filter((e) => e.identifier.startsWith("refresh-"));
    expect(held).toHaveLength(60);
  });
});
