import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertEvent } from "../ops/dead-letters-fixtures.ts";
import { backends } from "../support/db.ts";
import { apiError, startApi, type TestApi } from "./harness.ts";

const HOUR = 3_600_000;

describe.each(backends)("GET /v1/stats narrowed to a meter and a start on %s", (kind) => {
  let api: TestApi;
  const since = new Date(Date.now() - HOUR);
  beforeAll(async () => {
    api = await startApi(kind);
    const earlier = new Date(since.getTime() - HOUR);
    await insertEvent(api.db, "old-run", { eventName: "calls", receivedAt: earlier });
    await insertEvent(api.db, "this-run-1", { eventName: "calls", status: "reported" });
    await insertEvent(api.db, "this-run-2", {
      eventName: "calls",
      lastErrorCode: "timestamp_too_old",
    });
    await insertEvent(api.db, "other-meter", { eventName: "seats", status: "reported" });
  });
  afterAll(() => api?.close());

  const stats = async (query: string) => {
    const res = await api.call({ method: "GET", url: `/v1/stats${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it("counts only the meter's events received since then", async () => {
    // Unscoped, reported comes from the running counts, which these fixture rows (written as
    // they are, never settled) do not feed: test/outbox/event-counts.test.ts holds those.
    const all = await stats("");
    expect(all.failed).toBe(2);
    const meter = await stats("?event_name=calls");
    expect([meter.reported, meter.failed]).toEqual([1, 2]);
    const run = await stats(`?event_name=calls&received_since=${since.toISOString()}`);
    expect([run.reported, run.failed]).toEqual([1, 1]);
    expect(run.failed_by_code).toEqual({ timestamp_too_old: 1 });
  });

  it("a bad parameter is 400 invalid_query naming it", async () => {
    for (const [query, field] of [
      ["?received_since=yesterday", "received_since"],
      ["?event_name=", "event_name"],
      ["?customer=acme", "customer"],
    ] as const) {
      const res = await api.call({ method: "GET", url: `/v1/stats${query}` });
      expect(res.statusCode, query).toBe(400);
      const error = apiError(res);
      expect(error.code).toBe("invalid_query");
      expect([error.field, ...(error.errors ?? []).map((e) => e.field)]).toContain(field);
    }
  });
});
