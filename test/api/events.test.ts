import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rows } from "../../src/db/rows.ts";
import { backends } from "../support/db.ts";
import { apiError, seed, startApi, type TestApi } from "./harness.ts";

describe.each(backends)("POST /v1/events on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, {
      customers: ["acme", "globex"],
      deleted: ["initech"],
      meters: ["api_calls", "tokens"],
    });
  });
  afterAll(() => api?.close());

  const post = (payload: unknown, headers: Record<string, string> = {}) =>
    api.call({
      method: "POST",
      url: "/v1/events",
      payload: JSON.stringify(payload),
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${api.ingestKey}`,
        ...headers,
      },
    });

  /** The stored events whose id starts with `prefix`. */
  const stored = (prefix: string) =>
    rows<{ id: string; customer_key: string; value: number; occurred_at: string; status: string }>(
      api.db,
      sql`select id, customer_key, value::int as value, occurred_at::text as occurred_at, status
            from usage_events where id like ${`${prefix}%`} order by id`,
    );

  it("stores one event with its own time and answers 202 after the commit", async () => {
    const res = await post({
      id: "one-1",
      customer: "acme",
      event_name: "api_calls",
      value: 7,
      timestamp: "2025-02-01T10:00:00+02:00",
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1, duplicates: 0 });
    const [row] = await stored("one-");
    expect(row).toMatchObject({ id: "one-1", customer_key: "acme", value: 7, status: "pending" });
    expect(new Date(row?.occurred_at ?? "").toISOString()).toBe("2025-02-01T08:00:00.000Z");
  });

  it("stores a batch, counting ids already stored with identical content as duplicates", async () => {
    const events = [1, 2, 3].map((i) => ({
      id: `batch-${i}`,
      customer: "acme",
      event_name: "tokens",
      value: i,
      timestamp: 1_738_396_800,
    }));
    expect((await post({ events: events.slice(0, 1) })).json()).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    const res = await post({ events: [...events, events[1]] });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, duplicates: 2 });
    expect((await stored("batch-")).map((r) => r.id)).toEqual(["batch-1", "batch-2", "batch-3"]);
  });

  it("treats a resent event without timestamp as a duplicate, not a conflict", async () => {
    const event = { id: "notime-1", customer: "acme", event_name: "api_calls", value: 1 };
    expect((await post(event)).json()).toEqual({ accepted: 1, duplicates: 0 });
    const again = await post(event);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ accepted: 0, duplicates: 1 });
  });

  it("refuses an id stored with other content: 409 naming the ids, and stores nothing of the batch", async () => {
    await post({
      id: "conf-1",
      customer: "acme",
      event_name: "api_calls",
      value: 1,
      timestamp: 1_738_396_800,
    });
    const res = await post({
      events: [
        { id: "conf-0", customer: "acme", event_name: "api_calls", value: 1 },
        {
          id: "conf-1",
          customer: "acme",
          event_name: "api_calls",
          value: 2,
          timestamp: 1_738_396_800,
        },
        { id: "conf-2", customer: "acme", event_name: "api_calls", value: 1 },
      ],
    });
    expect(res.statusCode).toBe(409);
    expect(apiError(res)).toMatchObject({ code: "conflicting_event", ids: ["conf-1"] });
    expect(apiError(res).message).toContain('"conf-1"');
    const left = await stored("conf-");
    expect(left.map((r) => [r.id, r.value])).toEqual([["conf-1", 1]]);
  });

  it("a different timestamp is different content", async () => {
    const event = { id: "ts-1", customer: "acme", event_name: "api_calls", value: 1 };
    await post({ ...event, timestamp: 1_738_396_800 });
    const res = await post({ ...event, timestamp: 1_738_396_801 });
    expect(res.statusCode).toBe(409);
  });

  it("refuses a batch with one bad item and stores none of it, reporting every error", async () => {
    const res = await post({
      events: [
        { id: "bad-0", customer: "acme", event_name: "api_calls", value: 1 },
        { id: "bad-1", customer: "acme", event_name: "api_calls", value: -2 },
        { id: "bad 2", customer: "acme", event_name: "api_calls", value: 1, colour: "red" },
        { id: "bad-3", customer: "acme", event_name: "api_calls", value: "5" },
      ],
    });
    expect(res.statusCode).toBe(400);
    const error = apiError(res);
    expect(error.code).toBe("invalid_events");
    expect(error.errors).toEqual([
      {
        index: 1,
        field: "events[1].value",
        code: "invalid_value",
        message: expect.stringContaining("events[1].value must be a whole number ≥ 0"),
      },
      {
        index: 2,
        field: "events[2].id",
        code: "invalid_value",
        message: expect.stringContaining("events[2].id must be"),
      },
      {
        index: 2,
        field: "events[2].colour",
        code: "unknown_field",
        message: expect.stringContaining("not a known field"),
      },
      {
        index: 3,
        field: "events[3].value",
        code: "invalid_value",
        message: expect.stringContaining("whole number"),
      },
    ]);
    expect(await stored("bad")).toEqual([]);
  });

  it("refuses ids repeated in the batch with different content (400)", async () => {
    const res = await post({
      events: [
        { id: "rep-1", customer: "acme", event_name: "api_calls", value: 1 },
        { id: "rep-1", customer: "acme", event_name: "api_calls", value: 2 },
      ],
    });
    expect(res.statusCode).toBe(400);
    expect(apiError(res).errors?.[0]).toMatchObject({
      field: "events[1].id",
      code: "conflicting_id",
    });
    expect(await stored("rep-")).toEqual([]);
  });

  it.each([
    ["unknown_customer", { customer: "nobody" }, 'events[1].customer "nobody" does not exist'],
    ["customer_deleted", { customer: "initech" }, 'events[1].customer "initech" was deleted'],
    [
      "unknown_event_name",
      { event_name: "minutes" },
      'events[1].event_name "minutes" has no meter',
    ],
  ])("422 %s names it and stores nothing", async (code, change, message) => {
    const res = await post({
      events: [
        { id: `ref-${code}-0`, customer: "acme", event_name: "api_calls", value: 1 },
        { id: `ref-${code}-1`, customer: "acme", event_name: "api_calls", value: 1, ...change },
      ],
    });
    expect(res.statusCode).toBe(422);
    const error = apiError(res);
    expect(error.code).toBe(code);
    expect(error.errors).toEqual([
      expect.objectContaining({ index: 1, code, message: expect.stringContaining(message) }),
    ]);
    expect(await stored(`ref-${code}`)).toEqual([]);
  });

  it("an inactive meter still accepts events (they wait in pre-flight)", async () => {
    await api.call({ method: "PUT", url: "/v1/meters/paused", payload: { status: "inactive" } });
    const res = await post({ id: "paused-1", customer: "acme", event_name: "paused", value: 1 });
    expect(res.statusCode).toBe(202);
  });

  it("stores 1,000 events in one request", async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({
      id: `bulk-${String(i).padStart(4, "0")}`,
      customer: i % 2 ? "acme" : "globex",
      event_name: "tokens",
      value: i,
      timestamp: 1_738_396_800 + i,
    }));
    const res = await post({ events });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1000, duplicates: 0 });
    const again = await post({ events });
    expect(again.json()).toEqual({ accepted: 0, duplicates: 1000 });
    const [count] = await rows<{ n: number }>(
      api.db,
      sql`select count(*)::int as n from usage_events where id like 'bulk-%'`,
    );
    expect(count?.n).toBe(1000);
  });

  it("concurrent batches of the same ids in opposite orders store each id once, without deadlock", async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({
      id: `race-${String(i).padStart(4, "0")}`,
      customer: "acme",
      event_name: "tokens",
      value: 1,
      timestamp: 1_738_396_800,
    }));
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post({ events: i % 2 ? [...events].reverse() : events })),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(6).fill(202));
    const accepted = results.reduce((sum, r) => sum + r.json().accepted, 0);
    expect(accepted).toBe(1000);
    expect(await stored("race-0")).toHaveLength(1000);
  });

  it("the same id sent concurrently with two contents: one is stored, the other is 409", async () => {
    const results = await Promise.all(
      [1, 2].map((value) =>
        post({ id: "race-conflict", customer: "acme", event_name: "tokens", value, timestamp: 1 }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([202, 409]);
    expect(await stored("race-conflict")).toHaveLength(1);
  });

  it("413 body_too_large over 1 MiB", async () => {
    const res = await api.call({
      method: "POST",
      url: "/v1/events",
      payload: JSON.stringify({ events: [{ id: "big", pad: "x".repeat(1024 * 1024) }] }),
      headers: { "content-type": "application/json", authorization: `Bearer ${api.ingestKey}` },
    });
    expect(res.statusCode).toBe(413);
    expect(apiError(res).code).toBe("body_too_large");
  });

  it.each([
    ['{"id": "x",', "invalid_json"],
    ["", "invalid_json"],
    ['{"__proto__": {"admin": true}}', "invalid_json"],
  ])("400 invalid_json for %j", async (payload, code) => {
    const res = await api.call({
      method: "POST",
      url: "/v1/events",
      payload,
      headers: { "content-type": "application/json", authorization: `Bearer ${api.ingestKey}` },
    });
    expect(res.statusCode).toBe(400);
    expect(apiError(res).code).toBe(code);
    expect(apiError(res).message).toMatch(/^body is/);
  });

  it("415 unsupported_media_type for a body that is not JSON", async () => {
    const res = await api.call({
      method: "POST",
      url: "/v1/events",
      payload: "id=1",
      headers: { "content-type": "text/plain", authorization: `Bearer ${api.ingestKey}` },
    });
    expect(res.statusCode).toBe(415);
    expect(apiError(res).code).toBe("unsupported_media_type");
  });

  it("400 invalid_body when there is no body at all", async () => {
    const res = await api.call({
      method: "POST",
      url: "/v1/events",
      headers: { authorization: `Bearer ${api.ingestKey}` },
    });
    expect(res.statusCode).toBe(400);
    expect(apiError(res)).toMatchObject({ code: "invalid_body", field: "body" });
  });
});
