import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { meters } from "../../src/db/schema/meters.ts";
import { workers } from "../../src/db/schema/workers.ts";
import { claim } from "../../src/outbox/claim.ts";
import { registerWorker, stopWorker } from "../../src/outbox/workers.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { insertEvents } from "./seed.ts";

describe.each(backends)("limits per account, not per process, on %s", (kind) => {
  it("one request in flight per (customer, meter) across workers: a pair another worker holds is not claimed", async () => {
    const database = await freshDatabase(kind);
    try {
      const { db } = database;
      const at = (i: number) => new Date(Date.now() - 3_600_000 + i);
      await insertEvents(db, [
        {
          id: "p-1",
          customerKey: "acme",
          eventName: "calls",
          value: 1,
          occurredAt: at(0),
          nextAttemptAt: at(0),
        },
        {
          id: "p-2",
          customerKey: "acme",
          eventName: "calls",
          value: 1,
          occurredAt: at(1),
          nextAttemptAt: at(1),
        },
        {
          id: "q-1",
          customerKey: "acme",
          eventName: "tokens",
          value: 1,
          occurredAt: at(2),
          nextAttemptAt: at(2),
        },
        {
          id: "r-1",
          customerKey: "zeta",
          eventName: "calls",
          value: 1,
          occurredAt: at(3),
          nextAttemptAt: at(3),
        },
      ]);
      // Both alive: a worker alone marks no pair (outbox/claim.ts pairOwner).
      await registerWorker(db, { id: "worker-a", host: "h", pid: 1 });
      await registerWorker(db, { id: "worker-b", host: "h", pid: 2 });
      const a = await claim(db, { owner: "worker-a", leaseMs: 60_000, limit: 1 });
      expect(a.events.map((e) => e.id)).toEqual(["p-1"]);
      // Worker B takes everything else it may: not acme × calls, which worker A is sending.
      const b = await claim(db, { owner: "worker-b", leaseMs: 60_000, limit: 10 });
      expect(b.events.map((e) => e.id).sort()).toEqual(["q-1", "r-1"]);
      // Worker A itself may take more of its own pair (its delivery queue sends them in turn).
      const again = await claim(db, { owner: "worker-a", leaseMs: 60_000, limit: 10 });
      expect(again.events.map((e) => e.id)).toEqual(["p-2"]);
    } finally {
      await database.close();
    }
  });

  it("a worker alone marks no pair (a stopped or gone one does not count); once another is alive, its claims mark them again", async () => {
    const database = await freshDatabase(kind);
    try {
      const { db } = database;
      const at = (i: number) => new Date(Date.now() - 3_600_000 + i);
      const event = (id: string, customerKey: string, eventName: string, i: number) => ({
        id,
        customerKey,
        eventName,
        value: 1,
        occurredAt: at(i),
        nextAttemptAt: at(i),
      });
      await insertEvents(db, [
        event("p-1", "acme", "calls", 0),
        event("p-2", "acme", "calls", 1),
        event("p-3", "acme", "calls", 2),
        event("q-1", "acme", "tokens", 3),
      ]);
      await registerWorker(db, { id: "worker-a", host: "h", pid: 1 });
      await registerWorker(db, { id: "stopped", host: "h", pid: 2 });
      await stopWorker(db, "stopped");
      await db.insert(workers).values({
        id: "gone",
        host: "h",
        pid: 3,
        lastSeenAt: new Date(Date.now() - 3_600_000),
      });
      const pairOwners = async () =>
        Object.fromEntries(
          (
            await rows<{ id: string; pair_owner: string | null }>(
              db,
              sql`select id, pair_owner from usage_events where lease_owner is not null order by id`,
            )
          ).map((r) => [r.id, r.pair_owner]),
        );

      const alone = await claim(db, { owner: "worker-a", leaseMs: 60_000, limit: 1 });
      expect(alone.events.map((e) => e.id)).toEqual(["p-1"]);
      expect(await pairOwners()).toEqual({ "p-1": null });

      await registerWorker(db, { id: "worker-b", host: "h", pid: 4 });
      const again = await claim(db, { owner: "worker-a", leaseMs: 60_000, limit: 1 });
      expect(again.events.map((e) => e.id)).toEqual(["p-2"]);
      expect(await pairOwners()).toEqual({ "p-1": null, "p-2": "worker-a" });
      // Worker B now sees worker A's pair, and leaves p-3 to it.
      const b = await claim(db, { owner: "worker-b", leaseMs: 60_000, limit: 10 });
      expect(b.events.map((e) => e.id)).toEqual(["q-1"]);
      expect(await pairOwners()).toEqual({ "p-1": null, "p-2": "worker-a", "q-1": "worker-b" });
    } finally {
      await database.close();
    }
  });

  it("the v2 stream has no such rule: a stream meter's pair another worker holds is claimed", async () => {
    const database = await freshDatabase(kind);
    try {
      const { db } = database;
      await db.insert(meters).values({ eventName: "streamed", deliveryMode: "meter_stream" });
      const at = (i: number) => new Date(Date.now() - 3_600_000 + i);
      await insertEvents(
        db,
        [0, 1].map((i) => ({
          id: `s-${i}`,
          customerKey: "acme",
          eventName: "streamed",
          value: 1,
          occurredAt: at(i),
          nextAttemptAt: at(i),
        })),
      );
      const a = await claim(db, { owner: "worker-a", leaseMs: 60_000, limit: 1 });
      expect(a.events.map((e) => e.id)).toEqual(["s-0"]);
      const b = await claim(db, { owner: "worker-b", leaseMs: 60_000, limit: 10 });
      expect(b.events.map((e) => e.id)).toEqual(["s-1"]);
    } finally {
      await database.close();
    }
  });
});
