import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../src/ops/dead-letters-input.ts";
import { apiError, startApi, type TestApi } from "../api/harness.ts";
import { backends } from "../support/db.ts";
import { insertEvent } from "./dead-letters-fixtures.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64url");

// A cursor comes back from the client: anything but a next_cursor we handed out is its mistake.
const forged: Array<[string, string]> = [
  ["not base64", "garbage!!"],
  ["base64 of garbage", b64("\u0001\u0002 not json")],
  ["base64 of half a JSON", b64('{"a":')],
  ["base64 of JSON of the wrong shape", b64('{"at":"2025-03-01T10:00:00.000000Z","id":"x"}')],
  ["a month 13, hour 99", b64('["2025-13-45T99:99:99.000000Z","evt-1"]')],
  ["February 30", b64('["2025-02-30T10:00:00.000000Z","evt-1"]')],
  ["year 0", b64('["0000-01-01T00:00:00.000000Z","evt-1"]')],
  ["NUL in the id", b64('["2025-03-01T10:00:00.000000Z","evt\\u0000"]')],
  ["NUL in the timestamp", b64('["2025-03-01T10:00:00.000000Z\\u0000","evt-1"]')],
];

describe.each(backends)("a forged dead-letter cursor on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await insertEvent(api.db, "dl-1", { failedHoursAgo: 2 });
    await insertEvent(api.db, "dl-2", { failedHoursAgo: 1 });
  });
  afterAll(() => api?.close());

  it.each(forged)("%s → 400 invalid_cursor naming cursor", async (_, cursor) => {
    const res = await api.call({ method: "GET", url: `/v1/dead-letters?cursor=${cursor}` });
    expect(res.statusCode, res.body).toBe(400);
    expect(apiError(res)).toMatchObject({
      code: "invalid_cursor",
      field: "cursor",
      message: "cursor must be the next_cursor of a previous page",
    });
  });

  it("a next_cursor handed out still pages", async () => {
    const first = await api.call({ method: "GET", url: "/v1/dead-letters?limit=1" });
    const cursor = (first.json() as { next_cursor: string }).next_cursor;
    const second = await api.call({
      method: "GET",
      url: `/v1/dead-letters?limit=1&cursor=${cursor}`,
    });
    expect(second.statusCode, second.body).toBe(200);
    expect((second.json() as { data: Array<{ id: string }> }).data.map((d) => d.id)).toEqual([
      "dl-1",
    ]);
  });
});

describe("decodeCursor (pure)", () => {
  it.each(forged)("refuses %s", (_, cursor) => {
    expect(decodeCursor(cursor)).toBeNull();
  });

  it("round-trips every real instant, from year 1 to 9999", () => {
    for (const at of [
      "0001-01-01T00:00:00.000000Z",
      "2024-02-29T23:59:59.999999Z",
      "9999-12-31T23:59:59.999999Z",
    ]) {
      expect(decodeCursor(encodeCursor({ at, id: "evt-1" }))).toEqual({ at, id: "evt-1" });
    }
  });
});
