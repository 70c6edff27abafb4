import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { customers } from "../../src/db/schema/customers.ts";
import { backends } from "../support/db.ts";
import {
  declareMeter,
  linkedCustomers,
  memoryLogger,
  pendingCount,
  reportedSums,
  reporter,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, type SeedEvent, statusCounts, waitFor } from "./seed.ts";

const DAY = 24 * 3_600_000;

describe.each(backends)("the poison pill, on %s, against the emulator", (kind) => {
  const suite = reporterSuite(kind);

  it("20 poison events at the head of the queue: 2,000 healthy events are each reported once, every poison event is dead-lettered with its reason and never claimed again", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "api_calls");
    const healthy = await linkedCustomers(db, stripe, "cust", 50);
    // Customers deleted in Meterline (they still exist in Stripe: Meterline's word decides).
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
    // Written straight into the table by an old producer: ids Stripe refuses at once (> 100 chars).
    // Three customers, fewer than METERLINE_SYSTEMIC_CUSTOMERS (5): the same rejection for five
    // customers within a minute would be systemic, a halt rather than poison (systemic.test.ts).
    for (let i = 0; i < 6; i++) {
      poison.push({
        id: `poison-long-${i}-${"x".repeat(120)}`,
        customerKey: `cust-${i % 3}`,
        eventName: "api_calls",
        value: 1_000,
        occurredAt: new Date(now - 60_000),
        nextAttemptAt: head,
        reason: "event_rejected",
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

    const logger = memoryLogger();
    const r = reporter(db, stripe, testSettings(), logger);
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
      // Two more empty claim cycles: a failed event that were claimable would show up here.
      await r.drained();
      await r.drained();
    } finally {
      await r.stop();
    }

    expect(await statusCounts(db)).toEqual({ reported: 2_000, failed: 20 });

    // Stripe holds exactly the healthy events: per customer, the ledger equals the outbox sums.
    const ledger = emu.ledger();
    expect(ledger.totals).toEqual(await reportedSums(db));
    const expected = new Map<string, number>();
    for (const e of good) {
      const id = healthy.find((c) => c.key === e.customerKey)?.stripeId ?? "";
      expected.set(id, (expected.get(id) ?? 0) + e.value);
    }
    expect(ledger.totals.map((t) => [t.customer, t.value])).toEqual(
      [...expected.entries()].sort((a, b) => a[0].localeCompare(b[0])),
    );
    expect(new Set(ledger.events.map((e) => e.identifier)).size).toBe(ledger.events.length);
    expect(ledger.events).toHaveLength(2_000);

    // Every poison event is dead-lettered with its reason, in its first claim, and never again.
    const failed = await rows<{
      id: string;
      code: string;
      message: string;
      claims: number;
      openClaims: number;
      attempts: number;
      attempt_rows: number;
    }>(
      db,
      sql`select e.id, e.last_error_code as code, e.last_error_message as message, e.claims, e.open_claims as "openClaims",
            e.attempts, (select count(*)::int from usage_event_attempts a where a.event_id = e.id) as attempt_rows
          from usage_events e where e.status = 'failed' order by e.id`,
    );
    const reasons = new Map(poison.map((p) => [p.id, p.reason]));
    for (const f of failed) {
      expect(f.code, f.id).toBe(reasons.get(f.id));
      expect(f.message.length, f.id).toBeGreaterThan(40);
      // One claim, ended by an outcome: no open claim is left.
      expect(f.claims, f.id).toBe(1);
      expect(f.openClaims, f.id).toBe(0);
      expect(f.attempt_rows, f.id).toBe(1);
      expect(f.attempts, f.id).toBe(f.code === "event_rejected" ? 1 : 0);
    }
    expect(failed.map((f) => f.id).sort()).toEqual([...reasons.keys()].sort());
  });
});
