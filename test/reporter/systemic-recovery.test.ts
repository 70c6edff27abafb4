import { sql } from "drizzle-orm";
import type Stripe from "stripe";
import { describe, expect, it } from "vitest";
import type { Db } from "../../src/db/connect.ts";
import { rows } from "../../src/db/rows.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import type { OutboundEvent, SendResult, UsageSink } from "../../src/reporter/sinks/port.ts";
import { type Reporter, startReporter } from "../../src/reporter/worker.ts";
import { backends } from "../support/db.ts";
import {
  declareMeter,
  linkedCustomers,
  memoryLogger,
  reporterSuite,
  testSettings,
} from "./harness.ts";
import { insertEvents, statusCounts, waitFor } from "./seed.ts";

/** How the sink below answers: as another Stripe account, with 500s, or as this one. */
type Answering = "wrong_account" | "server_error" | "right_account";

/**
 * Meter events through the emulator, except that it can answer as a key for another Stripe
 * account would (every customer missing) or with a 500, and that customers in `gone` are
 * missing even then: their 404 is their own.
 */
function answeringSink(stripe: Stripe, gone: Set<string>) {
  const real = fromMeterEvents(stripe);
  const state = { answering: "right_account" as Answering };
  const missing = (e: OutboundEvent): SendResult => ({
    kind: "http_error",
    status: 404,
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such customer: '${e.stripeCustomerId}'`,
    param: "customer",
    shouldRetry: null,
    requestId: "req_missing",
  });
  const sink: UsageSink = {
    mode: "meter_events",
    dedup: "identifier",
    async send(e: OutboundEvent): Promise<SendResult> {
      if (state.answering === "server_error") {
        return {
          kind: "http_error",
          status: 500,
          type: "api_error",
          code: null,
          message: "An unknown error occurred",
          param: null,
          shouldRetry: null,
          requestId: "req_500",
        };
      }
      if (state.answering === "wrong_account" || gone.has(e.stripeCustomerId)) return missing(e);
      return real.send(e);
    },
  };
  return { sink, state };
}

function start(db: Db, sink: UsageSink, id: string): Reporter {
  return startReporter({
    db,
    settings: testSettings({ id, systemicCustomers: 5 }),
    sinkFor: (mode) => (mode === "meter_events" ? sink : undefined),
    logger: memoryLogger(),
  });
}

async function openCircuits(db: Db): Promise<string[]> {
  const open = await rows<{ scope: string }>(db, sql`select scope from reporter_circuits`);
  return open.map((c) => c.scope);
}

describe.each(backends)("a systemic halt ends, on %s", (kind) => {
  const suite = reporterSuite(kind);

  it("a probe answered with a 500 leaves the circuit open: a 500 says nothing of the cause", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    await declareMeter(db, stripe, "flaky");
    const linked = await linkedCustomers(db, stripe, "flaky", 6);
    await insertEvents(
      db,
      linked.flatMap((c, i) =>
        [0, 1].map((j) => ({
          id: `flaky-${i}-${j}`,
          customerKey: c.key,
          eventName: "flaky",
          value: 1,
          occurredAt: new Date(Date.now() - 60_000),
        })),
      ),
    );
    const { sink, state } = answeringSink(stripe, new Set());
    state.answering = "wrong_account";
    const r = start(db, sink, "flaky");
    try {
      await waitFor("the systemic halt", async () => r.status().halted !== null);
      state.answering = "server_error";
      // Probes meet the 500 (each counts an attempt of its event)…
      await waitFor("three probes answered 500", async () => {
        const [n] = await rows<{ n: number }>(
          db,
          sql`select count(*)::int as n from usage_event_attempts a
              join usage_events e on e.id = a.event_id
              where e.event_name = 'flaky' and a.http_status = 500`,
        );
        return (n?.n ?? 0) >= 3;
      });
      // …and the circuit stays open: closed, every worker would send into the cause again.
      expect(r.status().halted?.scope).toBe("systemic:resource_missing");
      expect(await openCircuits(db)).toEqual(["systemic:resource_missing"]);
      state.answering = "right_account";
      await waitFor(
        "the queue to empty",
        async () => (await statusCounts(db, "flaky")).pending === undefined,
      );
      expect(r.status().halted).toBeNull();
    } finally {
      await r.stop();
      await db.execute(sql`delete from reporter_circuits`);
    }
    expect(await statusCounts(db, "flaky")).toEqual({ reported: 12 });
  });

  it("events taken back by a systemic revert and rejected again after others were delivered are their own: a restarted worker dead-letters them instead of halting again", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    await declareMeter(db, stripe, "tail");
    const [healthy, ...goneCustomers] = await linkedCustomers(db, stripe, "tail", 7);
    const gone = new Set(goneCustomers.map((c) => c.stripeId));
    const at = new Date(Date.now() - 60_000);
    await insertEvents(db, [
      ...goneCustomers.flatMap((c, i) =>
        [0, 1, 2].map((j) => ({
          id: `tail-gone-${i}-${j}`,
          customerKey: c.key,
          eventName: "tail",
          value: 1,
          occurredAt: at,
        })),
      ),
      {
        id: "tail-ok",
        customerKey: healthy?.key ?? "",
        eventName: "tail",
        value: 1,
        occurredAt: at,
      },
    ]);
    const { sink, state } = answeringSink(stripe, gone);

    // 1. A key for another account: every customer missing, nothing delivered. Systemic: the
    //    halt takes back what it dead-lettered, and everything waits behind the circuit.
    state.answering = "wrong_account";
    const first = start(db, sink, "tail-1");
    try {
      await waitFor("the systemic halt", async () => first.status().halted !== null);
      // Events the halt stopped before they left meet the code too, one probe at a time.
      await waitFor("every event rejected once", async () => {
        const [n] = await rows<{ n: number }>(
          db,
          sql`select count(distinct a.event_id)::int as n from usage_event_attempts a
              join usage_events e on e.id = a.event_id
              where e.event_name = 'tail' and a.stripe_code = 'resource_missing'`,
        );
        return n?.n === 19;
      });
    } finally {
      await first.stop();
    }
    await waitFor(
      "nothing dead-lettered",
      async () => (await statusCounts(db, "tail")).failed === undefined,
    );

    // 2. The right key, on a new worker: its probe delivers the healthy customer's event and
    //    closes the circuit. The gone customers' events are held back for now, so that…
    state.answering = "right_account";
    await db.execute(
      sql`update usage_events set next_attempt_at = now() + interval '1 hour'
          where event_name = 'tail' and id <> 'tail-ok'`,
    );
    const second = start(db, sink, "tail-2");
    try {
      await waitFor(
        "the probe's delivery",
        async () => (await statusCounts(db, "tail")).reported === 1,
      );
      await waitFor("the circuit closed", async () => (await openCircuits(db)).length === 0);
    } finally {
      await second.stop();
    }

    // 3. …a worker started after all that meets them alone: its own memory holds no delivery,
    //    and 6 customers missing with nothing else sent looks systemic to it. Their history
    //    says otherwise: they met the code before, and the account delivered since.
    await db.execute(
      sql`update usage_events set next_attempt_at = now() where event_name = 'tail' and status = 'pending'`,
    );
    const third = start(db, sink, "tail-3");
    try {
      await waitFor(
        "the queue to empty",
        async () => (await statusCounts(db, "tail")).pending === undefined,
      );
      expect(third.status().halted).toBeNull();
    } finally {
      await third.stop();
      await db.execute(sql`delete from reporter_circuits`);
    }
    expect(await statusCounts(db, "tail")).toEqual({ reported: 1, failed: 18 });
    const codes = await rows<{ code: string }>(
      db,
      sql`select distinct last_error_code as code from usage_events
          where event_name = 'tail' and status = 'failed'`,
    );
    expect(codes).toEqual([{ code: "resource_missing" }]);
  });
});
