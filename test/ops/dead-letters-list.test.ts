import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiError, startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";
import { insertEvent } from "./dead-letters-fixtures.ts";

describe.each(backends)("GET /v1/dead-letters on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    const db = api.db;
    await insertEvent(db, "dl-old", { failedHoursAgo: 48 });
    await insertEvent(db, "dl-mid", { failedHoursAgo: 3, customerKey: "globex" });
    await insertEvent(db, "dl-new", {
      failedHoursAgo: 0.1,
      eventName: "tokens",
      lastErrorCode: "timestamp_too_old",
      lastErrorMessage: "occurred_at is too old for Stripe",
    });
    await insertEvent(db, "dl-ambiguous", {
      failedHoursAgo: 2,
      lastErrorCode: "dedup_window_expired",
      firstAmbiguousAt: new Date(Date.now() - 30 * 3_600_000),
      firstSentAt: new Date(Date.now() - 30 * 3_600_000),
    });
    // Not dead letters: never listed, whatever their last error says.
    await insertEvent(db, "p-1", { status: "pending", failedAt: null });
    await insertEvent(db, "r-1", { status: "reported" });
    await insertEvent(db, "x-1", { status: "discarded" });
  });
  afterAll(() => api?.close());

  const list = async (query = "") => {
    const res = await api.call({ method: "GET", url: `/v1/dead-letters${query}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as {
      data: Array<{ id: string; error: { code: string }; dedup_window_expired: boolean }>;
      matched: number;
      next_cursor: string | null;
    };
  };
  const ids = (body: { data: Array<{ id: string }> }) => body.data.map((d) => d.id);

  it("lists failed events only, newest first, with their reason and a count", async () => {
    const body = await list();
    expect(ids(body)).toEqual(["dl-new", "dl-ambiguous", "dl-mid", "dl-old"]);
    expect(body.matched).toBe(4);
    expect(body.next_cursor).toBeNull();
    expect(body.data[0]).toMatchObject({
      id: "dl-new",
      customer: "acme",
      event_name: "tokens",
      value: 3,
      attempts: 2,
      error: {
        code: "timestamp_too_old",
        message: "occurred_at is too old for Stripe",
        http_status: 400,
        request_id: null,
      },
      first_ambiguous_at: null,
      dedup_window_expired: false,
    });
    expect(body.data.find((d) => d.id === "dl-ambiguous")?.dedup_window_expired).toBe(true);
  });

  it("filters by code, customer, event_name and age", async () => {
    expect(ids(await list("?code=customer_deleted"))).toEqual(["dl-mid", "dl-old"]);
    expect(ids(await list("?customer=globex"))).toEqual(["dl-mid"]);
    expect(ids(await list("?event_name=tokens"))).toEqual(["dl-new"]);
    expect(ids(await list("?older_than=1d"))).toEqual(["dl-old"]);
    expect(ids(await list("?newer_than=150m"))).toEqual(["dl-new", "dl-ambiguous"]);
    expect(ids(await list("?older_than=1h&newer_than=1d&code=customer_deleted"))).toEqual([
      "dl-mid",
    ]);
    expect((await list("?customer=nobody")).matched).toBe(0);
  });

  it("pages with limit and cursor, counting every match on every page", async () => {
    const first = await list("?limit=3");
    expect(ids(first)).toEqual(["dl-new", "dl-ambiguous", "dl-mid"]);
    expect(first.matched).toBe(4);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await list(`?limit=3&cursor=${first.next_cursor}`);
    expect(ids(second)).toEqual(["dl-old"]);
    expect(second.next_cursor).toBeNull();
  });

  it.each([
    ["?older_than=abc", "older_than", "older_than must be a duration like 30m, 2h or 7d"],
    ["?newer_than=2", "newer_than", "newer_than must be a duration like 30m, 2h or 7d"],
    ["?older_than=2h&newer_than=1h", "newer_than", "newer_than must be longer than older_than"],
    ["?limit=0", "limit", "limit must be a whole number from 1 to 500"],
    ["?limit=many", "limit", "limit must be a whole number from 1 to 500"],
    ["?code=a&code=b", "code", "code must be given once"],
    ["?coed=x", "coed", "coed is not a known field; did you mean code?"],
  ])("400 invalid_query for %s", async (query, field, message) => {
    const res = await api.call({ method: "GET", url: `/v1/dead-letters${query}` });
    expect(res.statusCode).toBe(400);
    expect(apiError(res)).toMatchObject({ code: "invalid_query", field });
    expect(apiError(res).message).toContain(message);
  });

  it("is for admin keys only", async () => {
    const headers = { authorization: `Bearer ${api.ingestKey}` };
    const get = await api.call({ method: "GET", url: "/v1/dead-letters", headers });
    expect(get.statusCode).toBe(403);
    const post = await api.call({
      method: "POST",
      url: "/v1/dead-letters/retry",
      headers,
      payload: { ids: ["dl-old"] },
    });
    expect(post.statusCode).toBe(403);
    expect(apiError(post).code).toBe("forbidden");
  });
});
