import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_LISTED_ERRORS } from "../../src/validation/item-error-list.ts";
import { backends } from "../support/db.ts";
import { apiError, startApi, type TestApi } from "./harness.ts";

/** A batch of `count` events whose customer, event_name and value keys are all misspelt. */
function misspeltBatch(count: number, valueLength: number): string {
  const long = "x".repeat(valueLength);
  const events = Array.from({ length: count }, (_, i) => ({
    id: `evt_${i}`,
    custmer: `acme-${long}`,
    evnt_name: `api_calls-${long}`,
    vlue: long,
  }));
  return JSON.stringify({ events });
}

describe.each(backends)("the error answer to a large invalid batch on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(() => api?.close());

  const post = (payload: string) =>
    api.call({
      method: "POST",
      url: "/v1/events",
      headers: { "content-type": "application/json" },
      payload,
    });

  it("1,000 events with 3 misspelt keys each: a bounded list, the right total, the first field and rule", async () => {
    const request = misspeltBatch(1000, 200);
    const res = await post(request);
    expect(res.statusCode).toBe(400);
    // Once 11 MiB for a 0.6 MiB request: now small whatever the batch.
    expect(res.body.length).toBeLessThanOrEqual(2 * request.length);
    expect(res.body.length).toBeLessThan(64 * 1024);

    const error = apiError(res);
    // Each event: three unknown keys, and the three fields they were meant to be are missing.
    expect(error).toMatchObject({ code: "invalid_events", truncated: true, total_errors: 6000 });
    expect(error.errors).toHaveLength(MAX_LISTED_ERRORS);
    expect(error.errors?.[0]).toEqual({
      index: 0,
      field: "events[0].customer",
      code: "required",
      message: "events[0].customer is required",
    });
    expect(error.errors).toContainEqual(
      expect.objectContaining({
        index: 0,
        field: "events[0].custmer",
        code: "unknown_field",
        message: expect.stringContaining(
          "events[0].custmer is not a known field; did you mean customer?",
        ),
      }),
    );
    expect(error.message).toMatch(
      /^6000 invalid fields, nothing stored: events\[0\]\.customer is required; .*; and 5997 more$/,
    );
  });

  it("misspelt keys thousands of characters long are cut in the answer, and still counted", async () => {
    const long = "k".repeat(3000);
    const events = Array.from({ length: 100 }, (_, i) => ({
      id: `evt_${i}`,
      customer: "acme",
      event_name: "api_calls",
      value: 1,
      [`${long}${i}`]: 1,
    }));
    const request = JSON.stringify({ events });
    const res = await post(request);
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThanOrEqual(request.length);
    const error = apiError(res);
    expect(error.errors).toHaveLength(100);
    expect(error.truncated).toBeUndefined();
    expect(error.errors?.[0]?.field).toBe(`events[0].${"k".repeat(100)}…`);
  });

  it("one event with 50,000 unknown keys: a small answer counting all of them", async () => {
    const event: Record<string, unknown> = {
      id: "evt_1",
      customer: "acme",
      event_name: "api_calls",
      value: 1,
    };
    for (let i = 0; i < 50_000; i++) event[`k${i}`] = i;
    const request = JSON.stringify(event);
    const res = await post(request);
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(64 * 1024);
    expect(apiError(res)).toMatchObject({ truncated: true, total_errors: 50_000 });
  });

  it("20,000 stray keys beside events: named a few, then counted", async () => {
    const body: Record<string, unknown> = {
      events: [{ id: "evt_1", customer: "acme", event_name: "api_calls", value: 1 }],
    };
    for (let i = 0; i < 20_000; i++) body[`stray${i}`] = i;
    const res = await post(JSON.stringify(body));
    expect(res.statusCode).toBe(400);
    expect(res.body.length).toBeLessThan(1_000);
    expect(apiError(res)).toMatchObject({ code: "invalid_body", field: "stray0" });
    expect(apiError(res).message).toContain(
      'stray0, stray1, stray2, stray3, stray4 and 19995 more: not allowed beside "events"',
    );
  });

  it("a small invalid batch still lists every error, without truncated", async () => {
    const res = await post(misspeltBatch(2, 10));
    const error = apiError(res);
    expect(error.errors).toHaveLength(12);
    expect(error).not.toHaveProperty("truncated");
    expect(error).not.toHaveProperty("total_errors");
  });
});
