import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { claim } from "../../src/outbox/claim.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import type { SendResult, UsageSink } from "../../src/reporter/sinks/port.ts";
import { startReporter } from "../../src/reporter/worker.ts";
import { backends } from "../support/db.ts";
import {
  declareMeter,
  linkedCustomers,
  memoryLogger,
  pendingCount,
  reporter,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, waitFor } from "./seed.ts";
import { letHoursPass } from "./time-travel.ts";

const minuteAgo = () => new Date(Date.now() - 60_000);

describe.each(backends)("exactly once, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("the dedup-window guard counts sends that never got an answer: an abandoned send is not resent 24 h later", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "unanswered");
    const [c] = await linkedCustomers(db, stripe, "unanswered", 1);
    await insertEvents(db, [
      {
        id: "unanswered-1",
        customerKey: c?.key ?? "",
        eventName: "unanswered",
        value: 7,
        occurredAt: minuteAgo(),
      },
    ]);
    // Stripe applies the event, but its answer never arrives: the worker is stopped with the
    // send in flight and abandons it (as after a SIGKILL or a lost lease, no answer is recorded).
    const real = fromMeterEvents(stripe);
    let sent = 0;
    const applyThenHang: UsageSink = {
      mode: "meter_events",
      dedup: "identifier",
      async send(event) {
        await real.send(event);
        sent++;
        return new Promise<SendResult>(() => {});
      },
    };
    const first = startReporter({
      db,
      settings: testSettings({ id: "abandons", leaseMs: 1_000, shutdownBudgetMs: 100 }),
      sinkFor: () => applyThenHang,
      logger: memoryLogger(),
    });
    await waitFor("the event to reach Stripe", async () => sent === 1);
    await first.stop();

    // A day passes (the account was halted, the meter inactive…): Stripe's dedup has forgotten.
    await letHoursPass(db, emu, 24);
    const next = reporter(db, stripe, testSettings({ id: "next" }));
    try {
      await waitFor("the event to settle", async () => (await pendingCount(db)) === 0);
    } finally {
      await next.stop();
    }
    const counted = emu.ledger().events.filter((e) => e.identifier === "unanswered-1");
    expect(counted).toHaveLength(1);
    const [row] = await rows<{ status: string; code: string }>(
      db,
      sql`select status, last_error_code as code from usage_events where id = 'unanswered-1'`,
    );
    expect(row).toEqual({ status: "failed", code: "dedup_window_expired" });
  });

  it("suspect events starve no longer: a suspect is sent long before a backlog drains", async () => {
    const { db } = suite.database;
    const { stripe, emu } = suite.env;
    await declareMeter(db, stripe, "starve");
    const linked = await linkedCustomers(db, stripe, "starve", 20);
    const key = (i: number) => linked[i % linked.length]?.key ?? "";
    // The suspect: claimed twice by workers that died before any outcome.
    await insertEvents(db, [
      {
        id: "suspect",
        customerKey: key(0),
        eventName: "starve",
        value: 1,
        occurredAt: minuteAgo(),
        nextAttemptAt: new Date(Date.now() - 3_600_000),
      },
    ]);
    for (const dead of ["dead-1", "dead-2"]) {
      const got = await claim(db, { owner: dead, leaseMs: 1, limit: 1 });
      expect(got.events.map((e) => e.id)).toEqual(["suspect"]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Not due until the worker is busy with the backlog (a retry's backoff, say).
    await db.execute(
      sql`update usage_events set next_attempt_at = now() + interval '1 hour' where id = 'suspect'`,
    );
    const backlog = 1_500;
    await insertEvents(
      db,
      Array.from({ length: backlog }, (_, i) => ({
        id: `starve-${i}`,
        customerKey: key(i),
        eventName: "starve",
        value: 1,
        occurredAt: minuteAgo(),
      })),
    );
    const sentSoFar = () => emu.ledger().events.filter((e) => e.event_name === "starve").length;
    const r = reporter(db, stripe, testSettings({ id: "busy", batchSize: 100, concurrency: 20 }));
    let dueAt = 0;
    try {
      await waitFor("the worker to be busy", async () => sentSoFar() >= 200);
      await db.execute(sql`update usage_events set next_attempt_at = now() where id = 'suspect'`);
      dueAt = sentSoFar();
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0, 120_000);
    } finally {
      await r.stop();
    }
    const order = emu
      .ledger()
      .events.filter((e) => e.event_name === "starve")
      .map((e) => e.identifier);
    expect(order).toHaveLength(backlog + 1);
    // Sent alone once what the worker held had drained (a batch, and what was in flight), not
    // after the whole backlog: the backlog still had over 1,000 events to go when it became due.
    expect(dueAt).toBeLessThan(backlog - 1_000);
    const sentAfterDue = order.indexOf("suspect") - dueAt;
    expect(order.indexOf("suspect")).toBeGreaterThanOrEqual(0);
    expect(sentAfterDue).toBeLessThan(300);
  });

  it("systemic is judged per request: a stream request of 10 customers rejected alike halts, and none of its events is dead-lettered", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    await declareMeter(db, stripe, "whole", "meter_stream");
    const linked = await linkedCustomers(db, stripe, "whole", 10);
    await insertEvents(
      db,
      linked.map((c, i) => ({
        id: `whole-${i}`,
        customerKey: c.key,
        eventName: "whole",
        value: 1,
        occurredAt: minuteAgo(),
      })),
    );
    let requests = 0;
    const refuses: UsageSink = {
      mode: "meter_stream",
      dedup: "identifier",
      maxBatch: 100,
      send: async () => refusal,
      async sendBatch() {
        requests++;
        return refusal;
      },
    };
    const r = startReporter({
      db,
      settings: testSettings({ id: "stream", systemicCustomers: 5, haltProbeMs: 60_000 }),
      sinkFor: () => refuses,
      logger: memoryLogger(),
    });
    try {
      await waitFor("the circuit to open", async () => r.status().halted !== null);
      await waitFor("the settles", async () => (await waiting(db, "whole")).length === 10);
    } finally {
      await r.stop();
    }
    expect(requests).toBe(1);
    expect(r.status().halted?.scope).toBe("systemic:parameter_invalid_integer");
    expect(await waiting(db, "whole")).toEqual(
      Array(10).fill({ status: "pending", reason: "systemic_halt" }),
    );
    await db.execute(sql`delete from reporter_circuits`);
  });
});

/** One request's answer, alike for every event in it (a bad deploy's payload, say). */
const refusal: SendResult = {
  kind: "http_error",
  status: 400,
  type: "invalid_request_error",
  code: "parameter_invalid_integer",
  message: "Invalid integer: value",
  param: "events[0].payload.value",
  shouldRetry: null,
  requestId: "req_whole",
};

async function waiting(db: Parameters<typeof rows>[0], eventName: string) {
  return rows<{ status: string; reason: string | null }>(
    db,
    sql`select status, wait_reason as reason from usage_events
        where event_name = ${eventName} and (status <> 'pending' or wait_reason is not null)
        order by id`,
  );
}
