import { describe, expect, it, vi } from "vitest";
import { backends } from "../support/db.ts";
import {
  declareMeter,
  linkedCustomers,
  pendingCount,
  reportedSums,
  reporterAllModes,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

describe.each(backends)("the v2 stream's pipeline, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("several requests in flight at once (the next claim made while they are sent), each event still counted once", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "api_calls", "meter_stream");
    const customers = await linkedCustomers(db, stripe, "cust", 100);
    const now = Date.now();
    await insertEvents(
      db,
      Array.from({ length: 3_000 }, (_, i) => ({
        id: `evt-${i}`,
        customerKey: customers[i % 100]?.key ?? "cust-0",
        eventName: "api_calls",
        value: (i % 5) + 1,
        occurredAt: new Date(now - 60_000),
      })),
    );
    // Stripe takes its time: with one request at a time, claim, send and settle would take turns.
    emu.setFaults({ latencyMs: 50 });
    const stream = stripe.v2.billing.meterEventStream;
    const create = stream.create.bind(stream);
    let inFlight = 0;
    let peak = 0;
    const spy = vi.spyOn(stream, "create").mockImplementation(async (...args) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        return await create(...args);
      } finally {
        inFlight--;
      }
    });
    const r = reporterAllModes(db, stripe, testSettings({ batchSize: 100, streamDepth: 8 }));
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
      await r.drained();
    } finally {
      await r.stop();
      spy.mockRestore();
      emu.setFaults({ latencyMs: 0 });
    }
    expect(peak).toBeGreaterThanOrEqual(3);
    expect(await statusCounts(db)).toEqual({ reported: 3_000 });
    const ledger = emu.ledger();
    expect(ledger.events).toHaveLength(3_000);
    expect(new Set(ledger.events.map((e) => e.identifier)).size).toBe(3_000);
    expect(ledger.totals).toEqual(await reportedSums(db));
  });
});
