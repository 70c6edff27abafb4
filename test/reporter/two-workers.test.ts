import { sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Database, openDatabase } from "../../src/db/connect.ts";
import { migrate } from "../../src/db/migrate.ts";
import { rows } from "../../src/db/rows.ts";
import { ATTEMPT_HISTORY } from "../../src/outbox/attempt-history.ts";
import { describeOnPostgres, emptyPostgresDatabase } from "../support/db.ts";
import {
  attemptOutcomes,
  declareMeter,
  emulator,
  linkedCustomers,
  pendingCount,
  reportedSums,
  reporter,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

describeOnPostgres("two worker loops on one Postgres", () => {
  let a: Database;
  let b: Database;
  let drop: () => Promise<void>;
  let env: Awaited<ReturnType<typeof emulator>>;
  beforeAll(async () => {
    const target = await emptyPostgresDatabase();
    drop = target.drop;
    // Two pools, as two processes would have.
    a = await openDatabase({ url: target.url, poolSize: 5 });
    b = await openDatabase({ url: target.url, poolSize: 5 });
    await migrate(a);
    env = await emulator();
  });
  afterAll(async () => {
    await env.emu.close();
    await a.close();
    await b.close();
    await drop();
  });

  it("never send the same event twice: each reported once, the ledger equals the sums, no identifier sent twice", async () => {
    const { stripe, emu } = env;
    await declareMeter(a.db, stripe, "calls");
    // More (customer, meter) pairs than one worker holds events (batchSize 50): a claim leaves a
    // pair another live worker holds to that worker, so with fewer pairs the first worker to
    // claim could hold every one of them, and the other would rightly get nothing to send.
    const linked = await linkedCustomers(a.db, stripe, "pair", 150);
    // A little latency, so the two workers' claims and sends interleave.
    emu.setFaults({ latencyMs: 2, latencyJitterMs: 2 });

    // Both loops run, each on its own pool, before any event exists: on a busy machine one
    // worker's start (its pool's first connection) can take longer than the other needs to send
    // all 3,000, and then the test would not be about two workers at all.
    const one = reporter(a.db, stripe, testSettings({ id: "worker-a" }));
    const two = reporter(b.db, stripe, testSettings({ id: "worker-b" }));
    try {
      await waitFor("both workers to register", async () => {
        const live = await rows<{ n: number }>(
          a.db,
          sql`select count(*)::int as n from workers where id in ('worker-a', 'worker-b')`,
        );
        return live[0]?.n === 2;
      });
      await insertEvents(
        a.db,
        Array.from({ length: 3_000 }, (_, i) => ({
          id: `pair-${i}`,
          customerKey: linked[i % 150]?.key ?? "pair-0",
          eventName: "calls",
          value: (i % 5) + 1,
          occurredAt: new Date(Date.now() - 60_000),
        })),
      );
      await waitFor("the queue to empty", async () => (await pendingCount(a.db)) === 0);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }

    expect(await statusCounts(a.db)).toEqual({ reported: 3_000 });
    const ledger = emu.ledger();
    expect(ledger.events).toHaveLength(3_000);
    expect(new Set(ledger.events.map((e) => e.identifier)).size).toBe(3_000);
    expect(ledger.totals).toEqual(await reportedSums(a.db));
    // A second send of an identifier would have come back "already exists" (a duplicate) or
    // have lost its lease: neither happened, and every event took exactly one attempt.
    expect(await attemptOutcomes(a.db)).toEqual({ delivered: 3_000 });
    const perWorker = await rows<{ worker: string; n: number }>(
      a.db,
      sql`select worker, count(*)::int as n from ${ATTEMPT_HISTORY} a group by worker order by worker`,
    );
    expect(perWorker.map((w) => w.worker)).toEqual(["worker-a", "worker-b"]);
  });
});
