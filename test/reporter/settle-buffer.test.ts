import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { claim } from "../../src/outbox/claim.ts";
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
});
