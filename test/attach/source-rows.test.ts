import { describe, expect, it } from "vitest";
import {
  type AttachSpec,
  eventIdFor,
  quoteTable,
  rowToEvent,
  selectRowsSql,
} from "../../src/attach/source-rows.ts";
import { eventIdSchema } from "../../src/ingest/event-input.ts";

const spec: AttachSpec = {
  name: "usage_logs",
  table: "billing.usage_logs",
  idColumn: "id",
  customerColumn: "customerKey",
  eventName: { constant: "api_calls" },
  valueColumn: "amount",
  timeColumn: "createdAt",
  followColumn: "id",
  where: "not reported",
};

describe("attach's pure parts", () => {
  it("derives one event id per source row, within the id rule, hashed when the row id does not fit it", () => {
    expect(eventIdFor("usage_logs", "42")).toBe("att:usage_logs:42");
    const odd = eventIdFor("usage_logs", "a b/c");
    expect(odd).toMatch(/^att:usage_logs:h-[A-Za-z0-9_]{32}$/);
    expect(eventIdFor("usage_logs", "a b/c")).toBe(odd);
    expect(eventIdFor("usage_logs", "a b/d")).not.toBe(odd);
    const long = eventIdFor("n".repeat(40), "9".repeat(80));
    expect(eventIdSchema.safeParse(long).success).toBe(true);
  });

  it("maps a row to an event body: whole numbers from text become numbers, a Date RFC 3339, the rest left for ingest's rules", () => {
    const row = {
      id: "7",
      customer: "acme",
      event_name: null,
      value: "12",
      time: new Date("2026-01-02T03:04:05Z"),
      follow: "7",
    };
    expect(rowToEvent(spec, row)).toEqual({
      id: "att:usage_logs:7",
      customer: "acme",
      event_name: "api_calls",
      value: 12,
      timestamp: "2026-01-02T03:04:05.000Z",
    });
    expect(rowToEvent(spec, { ...row, value: "-5" }).value).toBe(-5);
    expect(rowToEvent(spec, { ...row, value: "1.5" }).value).toBe(1.5);
    // Past 2^53 a number would round: the text stays, and ingest refuses it by name.
    expect(rowToEvent(spec, { ...row, value: "9007199254740993" }).value).toBe("9007199254740993");
    expect(
      rowToEvent(
        { ...spec, eventName: { column: "kind" }, timeColumn: null },
        {
          ...row,
          event_name: "tokens",
          time: null,
        },
      ),
    ).toEqual({ id: "att:usage_logs:7", customer: "acme", event_name: "tokens", value: 12 });
  });

  it("reads in (follow, id) order through the table's own columns, every name quoted, the operator's filter ANDed", () => {
    expect(quoteTable('odd"schema.t')).toBe('"odd""schema"."t"');
    const after = selectRowsSql(spec, true);
    expect(after).toContain('from "billing"."usage_logs" as src');
    expect(after).toContain('(src."id", src."id") > ($1, $2)');
    expect(after).toContain("and (not reported)");
    expect(after).toContain('order by src."id", src."id"');
    expect(after).toContain("limit $3");
    const first = selectRowsSql({ ...spec, where: null }, false);
    expect(first).not.toContain("where");
    expect(first).toContain("limit $1");
  });
});
