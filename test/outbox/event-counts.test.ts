import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { asyncRejections, usageEvents } from "../../src/db/schema/index.ts";
import { queueStats } from "../../src/ops/stats.ts";
import { asyncReject } from "../../src/outbox/async-reject.ts";
import { cancelPending } from "../../src/outbox/cancel-pending.ts";
import { discardDeadLetters } from "../../src/outbox/dlq-discard.ts";
import { resolveDeadLetters } from "../../src/outbox/dlq-resolve.ts";
import { retryDeadLetters } from "../../src/outbox/dlq-retry.ts";
import {
  declareMeter,
  linkedCustomers,
  pendingCount,
  reporter,
  reporterSuite,
  testSettings,
} from "../reporter/harness.ts";
import { insertEvents, waitFor } from "../reporter/seed.ts";
import { backends } from "../support/db.ts";

// stats reads reported and discarded from running counts (usage_event_counts), not the table:
// every statement that moves an event into or out of those statuses must add its change.
describe.each(backends)("the running counts stats reads, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("match the table through settles, dead-letter actions, cancels and asynchronous rejections", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    /** stats' reported and discarded against a count of the rows themselves. */
    const agree = async () => {
      const [truth] = await rows<{ reported: number; discarded: number }>(
        db,
        sql`select (count(*) filter (where status = 'reported'))::int as reported,
                   (count(*) filter (where status = 'discarded'))::int as discarded
              from usage_events`,
      );
      const stats = await queueStats(db);
      expect({ reported: stats.reported, discarded: stats.discarded }).toEqual(truth);
      return truth;
    };

    await declareMeter(db, stripe, "api_calls");
    const [customer] = await linkedCustomers(db, stripe, "cnt", 1);
    const key = customer?.key ?? "cnt-0";
    await insertEvents(
      db,
      Array.from({ length: 40 }, (_, i) => ({
        id: `cnt-${i}`,
        customerKey: key,
        eventName: "api_calls",
        value: 1,
        occurredAt: new Date(Date.now() - 60_000),
      })),
    );
    const r = reporter(db, stripe, testSettings());
    try {
      await waitFor("every event reported", async () => (await pendingCount(db)) === 0);
    } finally {
      await r.stop();
    }
    expect(await agree()).toEqual({ reported: 40, discarded: 0 });

    // Dead letters and pending events, written directly: neither status is counted.
    await insertEvents(
      db,
      ["dead-1", "dead-2", "dead-3", "dead-4", "wait-1"].map((id) => ({
        id,
        customerKey: key,
        eventName: "api_calls",
        value: 1,
        occurredAt: new Date(),
        ...(id.startsWith("dead")
          ? { status: "failed" as const, lastErrorCode: "customer_deleted", failedAt: new Date() }
          : { waitReason: "customer_unlinked", nextAttemptAt: new Date(Date.now() + 3_600_000) }),
      })),
    );
    const run = (id: string) => ({
      target: { ids: [id] },
      dryRun: false,
      limit: 10,
      actor: "test",
    });
    expect((await resolveDeadLetters(db, run("dead-1"))).changed).toEqual(["dead-1"]);
    expect((await discardDeadLetters(db, run("dead-2"))).changed).toEqual(["dead-2"]);
    expect(
      (
        await retryDeadLetters(db, {
          ...run("dead-3"),
          dedupWindowMs: 3_600_000,
          timestampMarginMs: 60 * 60_000,
          notInStripe: false,
        })
      ).changed,
    ).toEqual(["dead-3"]);
    // A second resolve of the same event changes nothing, and counts nothing.
    expect((await resolveDeadLetters(db, run("dead-1"))).changed).toEqual([]);
    const cancelled = await cancelPending(db, {
      ...run("wait-1"),
      worker: "operator",
      reason: "test",
    });
    expect(cancelled.changed).toEqual(["wait-1"]);
    expect(await agree()).toEqual({ reported: 41, discarded: 2 });

    // Stripe rejects two reported events after its 200: no longer reported.
    await db.insert(asyncRejections).values(
      ["cnt-0", "cnt-1", "dead-4"].map((identifier) => ({
        identifier,
        code: "meter_event_customer_not_found",
        message: "no such customer",
        stripeEventId: `evt_${identifier}`,
      })),
    );
    const rejected = await asyncReject(db, ["cnt-0", "cnt-1", "dead-4"]);
    expect(rejected.failed.sort()).toEqual(["cnt-0", "cnt-1"]);
    expect(await agree()).toEqual({ reported: 39, discarded: 2 });
    expect(await db.$count(usageEvents)).toBe(45);
  });
});
