import { sql } from "drizzle-orm";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { Database } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import {
  customers,
  usageEventAttempts,
  usageEventRequests,
  usageEvents,
} from "../../src/db/schema/index.ts";
import { queueStats } from "../../src/ops/stats.ts";
import { type RemovedBatch, removeExpired } from "../../src/outbox/retention.ts";
import { sweepOnce } from "../../src/outbox/retention-job.ts";
import { backends, freshDatabase } from "../support/db.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Whole UTC hours, `days` back. */
const hourAgo = (days: number) => Math.floor((Date.now() - days * DAY) / HOUR) * HOUR;

/** An event row: old reported by default, in hour `hour` (ms). */
function event(id: string, hour: number, over: Partial<typeof usageEvents.$inferInsert> = {}) {
  return {
    id,
    customerKey: id.endsWith("b") ? "cus-b" : "cus-a",
    eventName: "api_calls",
    value: 1,
    occurredAt: new Date(hour + 10 * 60_000),
    status: "reported" as const,
    reportedAt: new Date(hour + 20 * 60_000),
    ...over,
  };
}

/** A finished reconciliation row over [from, to), with drift in `driftHours`. */
async function reconciliation(
  db: Database["db"],
  r: { from: number; to: number; startedAt: number; driftHours?: number[]; error?: string },
) {
  const drift = (r.driftHours ?? []).map((h) => ({ hour: new Date(h).toISOString() }));
  await rows(
    db,
    sql`insert into reconciliations (started_at, finished_at, range_start, range_end, ran_by, drift_groups, drift, error)
        values (${new Date(r.startedAt).toISOString()}::timestamptz, ${new Date(r.startedAt + 1000).toISOString()}::timestamptz,
                ${new Date(r.from).toISOString()}::timestamptz, ${new Date(r.to).toISOString()}::timestamptz,
                'test', ${drift.length}, ${JSON.stringify(drift)}::jsonb, ${r.error ?? null})`,
  );
}

const ids = async (db: Database["db"], table: "usage_events" | "usage_event_attempts") =>
  (
    await rows<{ id: string }>(
      db,
      table === "usage_events"
        ? sql`select id from usage_events order by id`
        : sql`select distinct event_id as id from usage_event_attempts order by 1`,
    )
  ).map((r) => r.id);

describe.each(backends)("retention, on %s", (kind) => {
  let database: Database;
  // Hours (ms) of the events' own times: all but `recent` older than the 35-day horizon.
  const clean = hourAgo(40); // compared clean by the latest run that holds it
  const drifted = hourAgo(41); // clean once, then drift found by a later run
  const cleared = hourAgo(42); // drift found, then a later run compared it clean
  const failedRun = hourAgo(43); // only a run that failed (error) holds it
  const never = hourAgo(44); // no run holds it
  const recent = hourAgo(2); // covered, but within the horizon
  const removable = ["clean-1", "clean-2b", "clean-3", "clean-4b", "clean-discarded", "cleared-1"];

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const { db } = database;
    await db.insert(customers).values([{ key: "cus-a" }, { key: "cus-b" }]);
    const runAt = hourAgo(38);
    await db.insert(usageEvents).values([
      event("clean-1", clean),
      event("clean-2b", clean),
      // Delivered in one request that shared its audit row: both go, and the row with them.
      event("clean-3", clean, { deliveredBy: 9001 }),
      event("clean-4b", clean, { deliveredBy: 9001 }),
      event("clean-discarded", clean, {
        status: "discarded",
        reportedAt: null,
        failedAt: new Date(clean),
      }),
      // Terminal statuses only: a dead letter waits for a person, a pending event for a worker.
      event("clean-failed", clean, {
        status: "failed",
        reportedAt: null,
        lastErrorCode: "customer_deleted",
      }),
      event("clean-pending", clean, { status: "pending", reportedAt: null }),
      // Reported after the covering run looked: it was not compared.
      event("clean-late", clean, { reportedAt: new Date(runAt + HOUR) }),
      event("drifted-1", drifted),
      // One request's row, named by an event that goes and one that stays: the row stays.
      event("cleared-1", cleared, { deliveredBy: 9002 }),
      event("failedrun-1", failedRun),
      event("never-1", never, { deliveredBy: 9002 }),
      event("recent-1", recent, { reportedAt: new Date(recent + 60_000) }),
    ]);
    const attempts = ["clean-1", "clean-2b", "clean-discarded", "drifted-1", "never-1", "recent-1"];
    await db.insert(usageEventAttempts).values(
      attempts.flatMap((id) =>
        [1, 2].map((attempt) => ({
          eventId: id,
          attempt,
          worker: "w",
          outcome: attempt === 1 ? "retry" : "delivered",
          startedAt: new Date(clean),
        })),
      ),
    );
    await db.insert(usageEventRequests).values(
      [9001, 9002].map((id) => ({
        id,
        worker: "w",
        outcome: "delivered",
        startedAt: new Date(clean),
        events: 2,
      })),
    );
    // Oldest first: run ids grow with time, and the latest run holding an hour judges it.
    await reconciliation(db, {
      from: cleared,
      to: clean + HOUR,
      startedAt: runAt,
      driftHours: [cleared],
    });
    await reconciliation(db, {
      from: failedRun,
      to: failedRun + HOUR,
      startedAt: runAt,
      error: "Stripe unreachable",
    });
    await reconciliation(db, { from: cleared, to: cleared + HOUR, startedAt: runAt + 60_000 });
    await reconciliation(db, {
      from: drifted,
      to: drifted + HOUR,
      startedAt: runAt + 120_000,
      driftHours: [drifted],
    });
    await reconciliation(db, { from: recent, to: recent + HOUR, startedAt: Date.now() });
  });
  afterAll(() => database?.close());

  it("removes only old, terminal events of hours a reconciliation found clean, with their attempts, in bounded batches", async () => {
    const { db } = database;
    const before = await ids(db, "usage_events");
    const batches: RemovedBatch[] = [];
    const removed = await removeExpired(db, {
      cutoff: new Date(Date.now() - 35 * DAY),
      settleMs: 10 * 60_000,
      batchSize: 2,
      pauseMs: 0,
      onBatch: (b) => {
        batches.push(b);
      },
    });
    expect(removed).toEqual({ events: 6, reported: 5, discarded: 1, attempts: 6 });
    // Two at most a statement: at least three statements for six events.
    expect(batches.length).toBeGreaterThanOrEqual(3);
    for (const b of batches) expect(b.events).toBeLessThanOrEqual(2);
    expect(await ids(db, "usage_events")).toEqual(before.filter((id) => !removable.includes(id)));
    expect(await ids(db, "usage_event_attempts")).toEqual(["drifted-1", "never-1", "recent-1"]);
    expect(
      await rows(db, sql`select id::int, events from usage_event_requests order by id`),
    ).toEqual([{ id: 9002, events: 1 }]);

    // A second sweep finds nothing more.
    const again = await removeExpired(db, {
      cutoff: new Date(Date.now() - 35 * DAY),
      settleMs: 10 * 60_000,
      batchSize: 2,
      pauseMs: 0,
    });
    expect(again.events).toBe(0);
    // What went is counted apart (the all-time reported and discarded figures are the outbox's).
    const stats = await queueStats(db);
    expect(stats.removed).toEqual({ reported: 5, discarded: 1 });
  });

  it("runs one sweep at a time across workers, and not again within its period", async () => {
    const { db } = database;
    const options = (owner: string) => ({
      db,
      owner,
      days: 35,
      settleMinutes: 10,
      everyMs: 3_600_000,
      batchSize: 100,
      pauseMs: 0,
      logger: pino({ level: "silent" }),
    });
    const [a, b] = await Promise.all([sweepOnce(options("w-a")), sweepOnce(options("w-b"))]);
    expect([a, b].filter((s) => s !== null)).toHaveLength(1);
    expect(await sweepOnce(options("w-c"))).toBeNull();
    const runs = await rows<{ ran_by: string; finished: boolean; error: string | null }>(
      db,
      sql`select ran_by, finished_at is not null as finished, error from retention_runs`,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ finished: true, error: null });
  });
});

describe("METERLINE_RETENTION_DAYS", () => {
  it("defaults to 35; 0 and off keep everything; under 35 is refused with the reason", () => {
    expect(loadConfig({}).retentionDays).toBe(35);
    expect(loadConfig({ METERLINE_RETENTION_DAYS: "off" }).retentionDays).toBe(0);
    expect(loadConfig({ METERLINE_RETENTION_DAYS: "0" }).retentionDays).toBe(0);
    expect(loadConfig({ METERLINE_RETENTION_DAYS: "90" }).retentionDays).toBe(90);
    expect(() => loadConfig({ METERLINE_RETENTION_DAYS: "7" })).toThrow(
      /METERLINE_RETENTION_DAYS: must be 0 or "off" \(keep everything\), or at least 35 days/,
    );
    expect(() => loadConfig({ METERLINE_RETENTION_DAYS: "soon" })).toThrow(
      /METERLINE_RETENTION_DAYS: must be a whole number of days, or "off"/,
    );
  });
});
