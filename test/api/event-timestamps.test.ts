import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_FUTURE_MINUTES } from "../../src/ingest/event-checks.ts";
import { parseEvents } from "../../src/ingest/event-input.ts";
import { backends } from "../support/db.ts";
import { apiError, seed, startApi, type TestApi } from "./harness.ts";

const MINUTE = 60_000;
const event = { id: "evt_1", customer: "acme", event_name: "api_calls", value: 1 };

describe.each(backends)("event timestamps at ingest on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme"], meters: ["api_calls"] });
  });
  afterAll(() => api?.close());

  const post = (payload: object) => api.call({ method: "POST", url: "/v1/events", payload });

  // Each passed the RFC 3339 check and then made Postgres refuse the insert: a 500.
  it.each([
    ["year 0", "0000-01-01T00:00:00Z"],
    ["an offset that pushes year 1 back into year 0", "0001-01-01T00:30:00+01:00"],
    ["an offset that pushes 9999-12-31 past year 9999", "9999-12-31T23:00:00-05:00"],
  ])("%s (%s) → 400 timestamp_out_of_range naming events[i].timestamp", async (_, timestamp) => {
    const res = await post({ events: [event, { ...event, id: "evt_2", timestamp }] });
    expect(res.statusCode, res.body).toBe(400);
    const error = apiError(res);
    expect(error).toMatchObject({ code: "invalid_events", field: "events[1].timestamp" });
    expect(error.errors).toEqual([
      {
        index: 1,
        field: "events[1].timestamp",
        code: "timestamp_out_of_range",
        message:
          "events[1].timestamp must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z once its offset is applied",
      },
    ]);
  });

  it.each([
    ["the year 2100 (RFC 3339)", "2100-01-01T00:00:00Z"],
    ["the year 2100 (Unix seconds)", 4_102_444_800],
    ["two hours ahead", () => new Date(Date.now() + 120 * MINUTE).toISOString()],
  ])("%s → 400 timestamp_too_far_ahead, saying the rule", async (_, at) => {
    const timestamp = typeof at === "function" ? at() : at;
    const res = await post({ events: [{ ...event, id: "evt_future", timestamp }] });
    expect(res.statusCode, res.body).toBe(400);
    const [error] = apiError(res).errors ?? [];
    expect(error).toMatchObject({
      index: 0,
      field: "events[0].timestamp",
      code: "timestamp_too_far_ahead",
    });
    expect(error?.message).toMatch(
      /^events\[0\]\.timestamp must be at most 60 minutes ahead of the server's clock \(it is .+; the server's clock reads .+\)$/,
    );
    const stored = await api.call({ method: "GET", url: "/v1/events/evt_future" });
    expect(stored.statusCode).toBe(404);
  });

  it("a timestamp within the bound ahead is accepted (it waits in pre-flight for Stripe)", async () => {
    const timestamp = new Date(Date.now() + 30 * MINUTE).toISOString();
    const res = await post({ ...event, id: "evt_soon", timestamp });
    expect(res.statusCode, res.body).toBe(202);
  });

  it("an old timestamp is still accepted: pre-flight dead-letters it with a reason", async () => {
    const res = await post({ ...event, id: "evt_old", timestamp: "2001-01-01T00:00:00Z" });
    expect(res.statusCode, res.body).toBe(202);
  });
});

describe("the future bound is a parameter", () => {
  const now = new Date("2025-03-01T12:00:00Z");
  const at = (minutes: number) => new Date(now.getTime() + minutes * MINUTE).toISOString();

  it("defaults to 60 minutes", () => {
    expect(MAX_FUTURE_MINUTES).toBe(60);
    expect(parseEvents({ ...event, timestamp: at(60) }, now).ok).toBe(true);
    expect(parseEvents({ ...event, timestamp: at(61) }, now).ok).toBe(false);
  });

  it("takes another bound, and says it in the message", () => {
    const result = parseEvents({ ...event, timestamp: at(10) }, now, { maxFutureMinutes: 5 });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.details.errors?.[0]?.message).toBe(
        "timestamp must be at most 5 minutes ahead of the server's clock (it is 2025-03-01T12:10:00.000Z; the server's clock reads 2025-03-01T12:00:00.000Z)",
      );
    }
  });
});
