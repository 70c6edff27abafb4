import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import type { SendResult, UsageSink } from "../../src/reporter/sinks/port.ts";
import { startReporter } from "../../src/reporter/worker.ts";
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
import { insertEvents, waitFor } from "./seed.ts";

describe.each(backends)("stopping the reporter, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("stop() lets in-flight sends settle and gives back unsent leases without counting an attempt; a new worker finishes the rest", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "jobs");
    const linked = await linkedCustomers(db, stripe, "stop", 4);
    await insertEvents(
      db,
      Array.from({ length: 400 }, (_, i) => ({
        id: `job-${i}`,
        customerKey: linked[i % 4]?.key ?? "stop-0",
        eventName: "jobs",
        value: 1,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    // Slow answers, so that stop() lands with sends in flight and events still queued.
    emu.setFaults({ latencyMs: 20 });
    const first = reporter(db, stripe, testSettings({ id: "first", concurrency: 4 }));
    await waitFor("some events reported", async () => {
      const [row] = await rows<{ n: number }>(
        db,
        sql`select count(*)::int as n from usage_events where status = 'reported'`,
      );
      return (row?.n ?? 0) >= 20;
    });
    await first.stop();

    const [after] = await rows<{ leased: number; counted_pending: number; pending: number }>(
      db,
      sql`select count(*) filter (where lease_owner is not null)::int as leased,
            count(*) filter (where status = 'pending' and attempts > 0)::int as counted_pending,
            count(*) filter (where status = 'pending')::int as pending
          from usage_events`,
    );
    expect(after).toMatchObject({ leased: 0, counted_pending: 0 });
    expect(after?.pending).toBeGreaterThan(0);

    emu.setFaults({ latencyMs: 0 });
    const second = reporter(db, stripe, testSettings({ id: "second" }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await second.stop();
    }
    expect(emu.ledger().events).toHaveLength(400);
    expect(emu.ledger().totals).toEqual(await reportedSums(db));
  });
});

describe.each(backends)("stopping within the shutdown budget, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("sends that never answer are abandoned when the budget is spent: stop() returns, nothing is charged, a new worker reports each once", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "hung");
    const linked = await linkedCustomers(db, stripe, "hung", 3);
    await insertEvents(
      db,
      Array.from({ length: 30 }, (_, i) => ({
        id: `hung-${i}`,
        customerKey: linked[i % 3]?.key ?? "hung-0",
        eventName: "hung",
        value: 1,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    let calls = 0;
    // Stripe never answers (a stuck connection): the worker can only abandon these sends.
    const stuck: UsageSink = {
      mode: "meter_events",
      dedup: "identifier",
      send: () => {
        calls++;
        return new Promise<SendResult>(() => {});
      },
    };
    const hung = startReporter({
      db,
      settings: testSettings({ id: "hung", leaseMs: 1_000, shutdownBudgetMs: 300 }),
      sinkFor: () => stuck,
      logger: memoryLogger(),
    });
    await waitFor("sends in flight", async () => calls >= 3);
    const started = Date.now();
    await hung.stop();
    // Generous: the budget is 300 ms; the point is that it returns at all.
    expect(Date.now() - started).toBeLessThan(10_000);

    const [after] = await rows<{ leased: number; attempts: number; audit: number }>(
      db,
      sql`select count(*) filter (where lease_owner is not null)::int as leased,
            coalesce(sum(attempts), 0)::int as attempts,
            (select count(*)::int from usage_event_attempts) as audit
          from usage_events where event_name = 'hung'`,
    );
    // Only the abandoned in-flight sends (one per customer) keep a lease, until it expires.
    expect(after).toEqual({ leased: 3, attempts: 0, audit: 0 });

    const next = reporter(db, stripe, testSettings({ id: "next" }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
    } finally {
      await next.stop();
    }
    expect(emu.ledger().events.filter((e) => e.event_name === "hung")).toHaveLength(30);
    expect(emu.ledger().totals).toEqual(await reportedSums(db));
  });
});
