import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { customers } from "../../src/db/schema/customers.ts";
import { ProcessMetrics } from "../../src/metrics/process-metrics.ts";
import { requestOutcome } from "../../src/reporter/reporter-metrics.ts";
import { fromMeterEvents } from "../../src/reporter/sinks/meter-events.ts";
import { startReporter } from "../../src/reporter/worker.ts";
import {
  declareMeter,
  linkedCustomers,
  memoryLogger,
  pendingCount,
  reporterSuite,
  testSettings,
} from "../reporter/harness.ts";
import { insertEvents, waitFor } from "../reporter/seed.ts";
import { backends } from "../support/db.ts";
import { samples } from "../support/prom-text.ts";

describe("a request's outcome label", () => {
  const httpError = (status: number) =>
    ({
      kind: "http_error",
      status,
      type: null,
      code: null,
      message: "",
      param: null,
      shouldRetry: null,
      requestId: null,
    }) as const;

  it("is one of six values: a 429 apart from other 4xx, a timeout apart from other network failures", () => {
    expect(requestOutcome({ kind: "ok", status: 200, requestId: null })).toBe("ok");
    expect(requestOutcome(httpError(429))).toBe("throttled");
    expect(requestOutcome(httpError(400))).toBe("client_error");
    expect(requestOutcome(httpError(404))).toBe("client_error");
    expect(requestOutcome(httpError(500))).toBe("server_error");
    expect(requestOutcome(httpError(503))).toBe("server_error");
    expect(requestOutcome({ kind: "network", message: "", timeout: true })).toBe("timeout");
    expect(requestOutcome({ kind: "network", message: "", timeout: false })).toBe("network");
  });
});

const ENDPOINT = "/v1/billing/meter_events";

describe.each(backends)("the worker's metrics, on %s, against the emulator", (kind) => {
  const suite = reporterSuite(kind);

  it("count each request by endpoint and outcome, with its latency, and each outcome written by mode, status and code", async () => {
    const { db } = suite.database;
    const { stripe } = suite.env;
    await declareMeter(db, stripe, "api_calls");
    const healthy = await linkedCustomers(db, stripe, "cust", 3);
    await linkedCustomers(db, stripe, "gone", 1);
    await db
      .update(customers)
      .set({ status: "deleted", deletedAt: new Date() })
      .where(sql`${customers.key} = 'gone-0'`);
    const occurredAt = new Date(Date.now() - 60_000);
    await insertEvents(db, [
      ...Array.from({ length: 30 }, (_, i) => ({
        id: `ok-${i}`,
        customerKey: healthy[i % 3]?.key ?? "cust-0",
        eventName: "api_calls",
        value: 1,
        occurredAt,
      })),
      // Refused by pre-flight, before any sink: mode "none".
      { id: "gone-1", customerKey: "gone-0", eventName: "api_calls", value: 1, occurredAt },
      // Refused by Stripe (an identifier over 100 characters): a 400 from the endpoint.
      {
        id: `long-${"x".repeat(120)}`,
        customerKey: "cust-0",
        eventName: "api_calls",
        value: 1,
        occurredAt,
      },
    ]);

    const metrics = new ProcessMetrics();
    const sink = fromMeterEvents(stripe);
    const r = startReporter({
      db,
      settings: testSettings(),
      sinkFor: (mode) => (mode === "meter_events" ? sink : undefined),
      logger: memoryLogger(),
      metrics: metrics.reporter,
    });
    try {
      await waitFor("the queue to empty", async () => (await pendingCount(db)) === 0);
      await r.drained();
    } finally {
      await r.stop();
    }

    const s = samples(await metrics.registry.metrics());
    expect(s.get(`meterline_stripe_requests_total{endpoint="${ENDPOINT}",outcome="ok"}`)).toBe(30);
    expect(
      s.get(`meterline_stripe_requests_total{endpoint="${ENDPOINT}",outcome="client_error"}`),
    ).toBe(1);
    expect(
      s.get(`meterline_stripe_request_duration_seconds_count{endpoint="${ENDPOINT}",outcome="ok"}`),
    ).toBe(30);
    expect(
      s.get(`meterline_stripe_request_duration_seconds_sum{endpoint="${ENDPOINT}",outcome="ok"}`),
    ).toBeGreaterThan(0);
    const outcome = (labels: string) => s.get(`meterline_event_outcomes_total{${labels}}`);
    expect(outcome('code="",mode="meter_events",status="reported",wait_reason=""')).toBe(30);
    expect(
      outcome('code="event_rejected",mode="meter_events",status="failed",wait_reason=""'),
    ).toBe(1);
    expect(outcome('code="customer_deleted",mode="none",status="failed",wait_reason=""')).toBe(1);
    // Nothing in flight or held once stopped.
    expect(s.get("meterline_worker_requests_in_flight")).toBe(0);
    expect(s.get("meterline_worker_events_held")).toBe(0);
  });
});
