import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageEventAttempts } from "../../src/db/schema/usage-event-attempts.ts";
import { usageEvents } from "../../src/db/schema/usage-events.ts";
import { backends } from "../support/db.ts";
import { apiError, seed, startApi, type TestApi } from "./harness.ts";

describe.each(backends)("GET /v1/events/:id and /v1/stats on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme"], meters: ["api_calls"] });
    const res = await api.call({
      method: "POST",
      url: "/v1/events",
      payload: {
        events: [
          {
            id: "trace-1",
            customer: "acme",
            event_name: "api_calls",
            value: 5,
            timestamp: "2025-02-01T08:00:00Z",
          },
          { id: "trace-2", customer: "acme", event_name: "api_calls", value: 1 },
          { id: "trace-3", customer: "acme", event_name: "api_calls", value: 1 },
        ],
      },
    });
    expect(res.statusCode).toBe(202);
  });
  afterAll(() => api?.close());

  const trace = (id: string, secret = api.ingestKey) =>
    api.app.inject({
      method: "GET",
      url: `/v1/events/${id}`,
      headers: { authorization: `Bearer ${secret}` },
    });

  it("shows a new event as pending, with no attempts", async () => {
    const res = await trace("trace-2");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      id: "trace-2",
      customer: "acme",
      event_name: "api_calls",
      value: 1,
      status: "pending",
      attempts: 0,
      wait_reason: null,
      last_error: null,
      lease: null,
      history: [],
    });
  });

  it("shows a dead letter's last error and every attempt, in order", async () => {
    const t0 = new Date("2025-03-01T10:00:00Z");
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    await api.db
      .update(usageEvents)
      .set({
        status: "failed",
        attempts: 2,
        waitReason: null,
        lastErrorCode: "customer_deleted",
        lastErrorMessage: "No such customer: 'cus_gone'",
        lastHttpStatus: 400,
        lastRequestId: "req_2",
        firstAttemptAt: at(0),
        lastAttemptAt: at(60),
        failedAt: at(61),
      })
      .where(eq(usageEvents.id, "trace-1"));
    await api.db.insert(usageEventAttempts).values([
      {
        eventId: "trace-1",
        attempt: 1,
        worker: "w1",
        outcome: "retry",
        httpStatus: 503,
        requestId: "req_1",
        message: "overloaded",
        startedAt: at(0),
        finishedAt: at(1),
      },
      {
        eventId: "trace-1",
        attempt: 2,
        worker: "w2",
        outcome: "rejected",
        httpStatus: 400,
        stripeCode: "resource_missing",
        requestId: "req_2",
        message: "No such customer: 'cus_gone'",
        startedAt: at(60),
        finishedAt: at(61),
      },
      { eventId: "trace-2", attempt: 1, worker: "w1", outcome: "delivered", startedAt: at(0) },
    ]);

    const res = await trace("trace-1");
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      status: "failed",
      value: 5,
      occurred_at: "2025-02-01T08:00:00.000Z",
      attempts: 2,
      last_error: {
        code: "customer_deleted",
        message: "No such customer: 'cus_gone'",
        http_status: 400,
        request_id: "req_2",
      },
      stripe_request_id: null,
      first_attempt_at: at(0).toISOString(),
      failed_at: at(61).toISOString(),
      reported_at: null,
    });
    expect(body.history).toEqual([
      {
        attempt: 1,
        outcome: "retry",
        http_status: 503,
        stripe_code: null,
        request_id: "req_1",
        message: "overloaded",
        worker: "w1",
        worker_alive: null,
        started_at: at(0).toISOString(),
        finished_at: at(1).toISOString(),
      },
      {
        attempt: 2,
        outcome: "rejected",
        http_status: 400,
        stripe_code: "resource_missing",
        request_id: "req_2",
        message: "No such customer: 'cus_gone'",
        worker: "w2",
        worker_alive: null,
        started_at: at(60).toISOString(),
        finished_at: at(61).toISOString(),
      },
    ]);
  });

  it("shows the lease of an event a worker holds", async () => {
    const expires = new Date(Date.now() + 60_000);
    await api.db
      .update(usageEvents)
      .set({ leaseOwner: "host-1", leaseExpiresAt: expires, waitReason: null })
      .where(eq(usageEvents.id, "trace-3"));
    expect((await trace("trace-3")).json().lease).toEqual({
      owner: "host-1",
      expires_at: expires.toISOString(),
    });
  });

  it("404 event_not_found", async () => {
    const res = await trace("nope");
    expect(res.statusCode).toBe(404);
    expect(apiError(res)).toMatchObject({
      code: "event_not_found",
      message: 'no event with id "nope"',
    });
  });

  it("GET /v1/stats counts by status and dead letters by code", async () => {
    const res = await api.call({ method: "GET", url: "/v1/stats" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      pending: { total: 2, leased: 1, due: 1, scheduled: 0 },
      reported: 0,
      failed: 1,
      discarded: 0,
      failed_by_code: { customer_deleted: 1 },
    });
    expect(res.json().pending.oldest_received_at).toEqual(expect.stringMatching(/Z$/));
  });
});
