import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Database, Db } from "../../src/db/connect.ts";
import { workers } from "../../src/db/schema/workers.ts";
import {
  beat,
  listWorkers,
  liveWorkerCount,
  registerWorker,
  stopWorker,
  WORKER_GONE_AFTER_LEASES,
  workerGoneAfterMs,
  workersAlive,
} from "../../src/outbox/workers.ts";
import { startWorkerRegistry } from "../../src/reporter/worker-registry.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { memoryLogger } from "./harness.ts";

const LIVE_MS = 30_000;

async function row(db: Db, id: string) {
  const found = (await listWorkers(db, LIVE_MS)).find((w) => w.id === id);
  if (!found) throw new Error(`no worker row ${id}`);
  return found;
}

// The defect: workers had no liveness signal. Each worker now keeps a row in `workers`, beaten
// every third of its lease and judged by the database's clock.
describe.each(backends)("workers had no liveness signal: the workers table on %s", (kind) => {
  let database: Database;
  let db: Db;
  beforeAll(async () => {
    database = await freshDatabase(kind);
    db = database.db;
  });
  afterAll(() => database?.close());

  it("a worker is gone after two leases without a heartbeat", () => {
    expect(WORKER_GONE_AFTER_LEASES).toBe(2);
    expect(workerGoneAfterMs(15_000)).toBe(30_000);
  });

  it("a registered worker is alive; beats record the last seen time and what is in flight", async () => {
    await registerWorker(db, { id: "w1", host: "host-a", pid: 100 });
    const first = await row(db, "w1");
    expect(first).toMatchObject({ host: "host-a", pid: 100, inFlight: 0, stoppedAt: null });
    expect(first.alive).toBe(true);
    await beat(db, "w1", 7);
    const after = await row(db, "w1");
    expect(after.inFlight).toBe(7);
    expect(after.lastSeenAt.getTime()).toBeGreaterThanOrEqual(first.lastSeenAt.getTime());
    expect(await liveWorkerCount(db, LIVE_MS)).toBe(1);
  });

  it("a worker unseen for longer than the window is not alive, by the database's clock", async () => {
    await registerWorker(db, { id: "w2", host: "host-b", pid: 200 });
    await db
      .update(workers)
      .set({ lastSeenAt: sql`now() - interval '31 seconds'` })
      .where(eq(workers.id, "w2"));
    expect((await row(db, "w2")).alive).toBe(false);
    // The same row with a wider window: alive. Only the database's now() and the window decide.
    expect((await listWorkers(db, 60_000)).find((w) => w.id === "w2")?.alive).toBe(true);
    expect(await liveWorkerCount(db, LIVE_MS)).toBe(1);
    expect(await workersAlive(db, ["w1", "w2", "nobody"], LIVE_MS)).toEqual(
      new Map([
        ["w1", true],
        ["w2", false],
      ]),
    );
  });

  it("a stopped worker is not alive at once, and a late beat does not bring it back", async () => {
    await beat(db, "w1", 3);
    await stopWorker(db, "w1");
    const stopped = await row(db, "w1");
    expect(stopped).toMatchObject({ alive: false, inFlight: 0 });
    expect(stopped.stoppedAt).toBeInstanceOf(Date);
    await beat(db, "w1", 5);
    expect(await row(db, "w1")).toMatchObject({ alive: false, inFlight: 0 });
  });

  it("a worker restarted under the same id is alive again, with a fresh start", async () => {
    const before = await row(db, "w1");
    await new Promise((resolve) => setTimeout(resolve, 20));
    await registerWorker(db, { id: "w1", host: "host-a2", pid: 101 });
    const restarted = await row(db, "w1");
    expect(restarted).toMatchObject({ alive: true, host: "host-a2", pid: 101, stoppedAt: null });
    expect(restarted.startedAt.getTime()).toBeGreaterThan(before.startedAt.getTime());
  });

  it("startWorkerRegistry registers, beats every third of the lease, and marks the stop", async () => {
    let inFlight = 2;
    const logger = memoryLogger();
    const registry = startWorkerRegistry({
      db,
      id: "reg-1",
      leaseMs: 300,
      inFlight: () => inFlight,
      logger,
      host: "host-r",
      pid: 300,
    });
    await vi.waitFor(async () => expect((await row(db, "reg-1")).alive).toBe(true));
    inFlight = 9;
    await vi.waitFor(async () => expect((await row(db, "reg-1")).inFlight).toBe(9));
    await registry.stop();
    const stopped = await row(db, "reg-1");
    expect(stopped).toMatchObject({ alive: false, inFlight: 0, host: "host-r", pid: 300 });
    // No beat after the stop: the row stays stopped past several intervals.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await row(db, "reg-1")).alive).toBe(false);
    expect(logger.lines.filter(([level]) => level === "error")).toEqual([]);
  });

  it("the registry logs database errors and never throws", async () => {
    const failing = new Error("connection refused");
    const broken = {
      insert: () => {
        throw failing;
      },
      update: () => {
        throw failing;
      },
    } as unknown as Db;
    const logger = memoryLogger();
    const registry = startWorkerRegistry({
      db: broken,
      id: "reg-broken",
      leaseMs: 60,
      inFlight: () => 0,
      logger,
    });
    await vi.waitFor(() =>
      expect(logger.lines.filter(([level]) => level === "error").length).toBeGreaterThan(1),
    );
    await expect(registry.stop()).resolves.toBeUndefined();
    expect(logger.lines.map(([, , msg]) => msg)).toContain("could not mark worker stopped");
  });
});
