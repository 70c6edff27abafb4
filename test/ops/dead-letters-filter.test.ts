import { describe, expect, it } from "vitest";
import { checkFilter, parseDuration } from "../../src/ops/dead-letters-filter.ts";
import { decodeCursor, encodeCursor } from "../../src/ops/dead-letters-input.ts";

describe("dead-letter filters (pure)", () => {
  it.each([
    ["45s", 45_000],
    ["30m", 1_800_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["0m", 0],
  ])("parseDuration(%s) = %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "1", "h", "1.5h", "-1h", "1 hour", "2w", "1h30m"])("%j is not a duration", (t) => {
    expect(parseDuration(t)).toBeNull();
  });

  it("parses every field; none means every dead letter", () => {
    expect(
      checkFilter({
        code: "customer_deleted",
        customer: "acme",
        event_name: "api_calls",
        older_than: "1h",
        newer_than: "2d",
      }),
    ).toEqual({
      ok: true,
      filter: {
        code: "customer_deleted",
        customer: "acme",
        eventName: "api_calls",
        olderThanMs: 3_600_000,
        newerThanMs: 172_800_000,
      },
    });
    expect(checkFilter({})).toMatchObject({ ok: true, filter: {} });
  });

  it("names the field and the rule, with the caller's prefix", () => {
    const check = checkFilter({ older_than: "soon", code: "" }, "filter.");
    expect(check.ok).toBe(false);
    expect(check.ok ? [] : check.errors.map((e) => e.message)).toEqual([
      "filter.code must be an error code: 1 to 100 characters from A-Z a-z 0-9 . _ : -",
      "filter.older_than must be a duration like 30m, 2h or 7d",
    ]);
  });

  it("refuses a window that can match nothing", () => {
    const check = checkFilter({ older_than: "2h", newer_than: "2h" });
    expect(check.ok ? null : check.errors[0]?.field).toBe("newer_than");
  });

  it("cursors round-trip, and anything else is refused", () => {
    const position = { at: "2025-03-01T10:00:00.123456Z", id: "evt-1" };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    expect(decodeCursor("garbage")).toBeNull();
    expect(decodeCursor(Buffer.from('["2025-03-01", "x"]').toString("base64url"))).toBeNull();
  });
});
