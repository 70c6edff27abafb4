import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { claim } from "../../src/outbox/claim.ts";
import { markLingerMs, settleLingerMs } from "../../src/reporter/linger.ts";
import { SettleBuffer } from "../../src/reporter/settle-buffer.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { delivered } from "./fixtures.ts";
import { memoryLogger } from "./harness.ts";
import { insertEvents, waitFor } from "./seed.ts";

describe.each(backends)("the settle buffer, on %s", (kind) => {
  it("one bad row wedges the settle buffer forever no longer: the others settle, the bad one is given up", async () => {
    const database = await freshDatabase(kind);
    try {
      const { db } = database;
      await insertEvents(
        db,
        ["good-1", "bad", "good-2"].map((id) => ({
          id,
          customerKey: "acme",
          eventName: "api_calls",
          value: 1,
          occurredAt: new Date(Date.now() - 60_000),
        })),
      );
      const { events } = await claim(db, { owner: "w", leaseMs: 60_000, limit: 10 });
      expect(events).toHaveLength(3);
      const done = new Map<string, boolean>();
      const logger = memoryLogger();
      const buffer = new SettleBuffer(db, "w", logger, 20, (row, settled) => {
        done.set(row.id, settled);
      });
      for (const e of events) {
        const row = delivered(e);
        // Postgres cannot store this status (int4): the statement fails on this row's data.
        if (e.id === "bad" && row.attempt) row.attempt.httpStatus = 2 ** 40;
        buffer.push(row);
      }
      // Settles queued after the bad row are not held back either.
      await waitFor("every row to be written or given up", async () => done.size === 3, 20_000);
      expect(Object.fromEntries(done)).toEqual({ "good-1": true, "good-2": true, bad: false });
      const status = await rows<{ id: string; status: string }>(
        db,
        sql`select id, status from usage_events order by id`,
      );
      expect(status).toEqual([
        { id: "bad", status: "pending" },
        { id: "good-1", status: "reported" },
        { id: "good-2", status: "reported" },
      ]);
      expect(logger.lines.some(([level, , msg]) => level === "error" && /given up/.test(msg))).toBe(
        true,
      );
    } finally {
      await database.close();
    }
  });

  it("settles that come within the linger share one statement; flush() does not wait for it", async () => {
    const database = await freshDatabase(kind);
    try {
      const { db } = database;
      await insertEvents(
        db,
        Array.from({ length: 10 }, (_, i) => ({
          id: `l-${i}`,
          customerKey: "acme",
          eventName: "api_calls",
          value: 1,
          occurredAt: new Date(Date.now() - 60_000),
        })),
      );
      const { events } = await claim(db, { owner: "w", leaseMs: 60_000, limit: 10 });
      // Each statement is its own transaction: the events one statement settled share their
      // row version's xmin. Count the statements that wrote them.
      const statements = async (ids: string[]) => {
        const [found] = await rows<{ n: number }>(
          db,
          sql`select count(distinct xmin::text)::int as n from usage_events
              where id in (${sql.join(
                ids.map((id) => sql`${id}`),
                sql`, `,
              )})`,
        );
        return found?.n;
      };
      const done = new Set<string>();
      const onDone = (row: { id: string }) => done.add(row.id);
      const lingering = new SettleBuffer(db, "w", memoryLogger(), 20, onDone, {
        lingerMs: 1_000,
      });
      for (const e of events.slice(0, 8)) {
        lingering.push(delivered(e));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await waitFor("the lingering batch to be written", async () => done.size === 8, 20_000);
      const lingered = events.slice(0, 8).map((e) => e.id);
      expect(await statements(lingered)).toBe(1);

      // A flush (a usage record's verification, a stop) writes at once, whatever the linger.
      const patient = new SettleBuffer(db, "w", memoryLogger(), 20, onDone, {
        lingerMs: 60_000,
      });
      for (const e of events.slice(8)) patient.push(delivered(e));
      await patient.flush();
      expect(done.size).toBe(10);
      expect(await statements(events.slice(8).map((e) => e.id))).toBe(1);
      expect(await statements(events.map((e) => e.id))).toBe(2);
    } finally {
      await database.close();
    }
  });
});

describe("how long a settle lingers", () => {
  it("the configured few ms, never more than a tenth of the lease (the heartbeat renews every third)", () => {
    expect(settleLingerMs({ settleLingerMs: 5, leaseMs: 15_000 })).toBe(5);
    expect(settleLingerMs({ settleLingerMs: 1_000, leaseMs: 1_500 })).toBe(150);
    expect(settleLingerMs({ settleLingerMs: 0, leaseMs: 15_000 })).toBe(0);
  });

  it("a first send's mark has a linger of its own, bounded the same way", () => {
    expect(markLingerMs({ markLingerMs: 20, leaseMs: 15_000 })).toBe(20);
    expect(markLingerMs({ markLingerMs: 1_000, leaseMs: 1_500 })).toBe(150);
    expect(markLingerMs({ markLingerMs: 0, leaseMs: 15_000 })).toBe(0);
  });
});
