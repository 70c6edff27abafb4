import { describe, expect, it } from "vitest";
import { judge } from "../../packages/client/src/answer.ts";
import { backoffMs, parseRetryAfter } from "../../packages/client/src/backoff.ts";
import { uuidv7 } from "../../packages/client/src/uuidv7.ts";

describe("the client's answer rules", () => {
  const item = (index: number) => ({
    index,
    field: `events[${index}].customer`,
    code: "unknown_customer",
    message: "m",
  });

  it("drops only events the server names; every other refusal keeps the batch", () => {
    expect(judge(202, { accepted: 3, duplicates: 0 }, null)).toEqual({ kind: "accepted" });
    for (const status of [400, 409, 422]) {
      expect(judge(status, { error: { code: "x", errors: [item(1)] } }, null)).toMatchObject({
        kind: "reject",
        errors: [item(1)],
      });
    }
    // A revoked key, a wrong URL, a body the server could not read: nothing about the events.
    for (const [status, code] of [
      [401, "unauthorized"],
      [403, "forbidden"],
      [404, "not_found"],
      [400, "invalid_json"],
    ] as const) {
      expect(judge(status, { error: { code, message: "no" } }, 5000)).toEqual({
        kind: "refused",
        status,
        code,
        message: "no",
        retryAfterMs: 5000,
      });
    }
    expect(judge(502, "<html>", null).kind).toBe("retry");
    for (const status of [408, 429, 500, 503]) expect(judge(status, null, 1000).kind).toBe("retry");
    expect(judge(413, { error: { code: "body_too_large" } }, null).kind).toBe("split");
  });

  it("backs off exponentially with full jitter, never past the cap, never under Retry-After", () => {
    const o = { baseMs: 100, maxMs: 5000 };
    expect(backoffMs(1, null, o, () => 0.999)).toBe(99);
    expect(backoffMs(4, null, o, () => 0.999)).toBe(799);
    expect(backoffMs(40, null, o, () => 0.999)).toBe(4995);
    expect(backoffMs(1, 3000, o, () => 0)).toBe(3000);
    expect(backoffMs(1, 60_000, o, () => 0)).toBe(5000);
    expect(parseRetryAfter("2")).toBe(2000);
    expect(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("2015-10-21T07:28:00Z")),
    ).toBe(10_000);
    expect(parseRetryAfter("soon")).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });

  it("makes UUIDv7 ids: version 7, sortable by time, within the server's id rule", () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(a.slice(0, 13).replace("-", "")).toBe(
      (1_700_000_000_000).toString(16).padStart(12, "0"),
    );
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7())).size).toBe(1000);
  });
});
