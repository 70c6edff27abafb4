import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EventsParse, MAX_BATCH, parseEvents } from "../../src/ingest/event-input.ts";
import type { ItemError } from "../../src/lib/errors.ts";

const now = new Date("2025-03-01T12:00:00Z");
const valid = { id: "evt_1", customer: "acme", event_name: "api_calls", value: 3 };

/** The item errors of a parse that must have failed with invalid_events. */
function itemErrors(result: EventsParse): ItemError[] {
  if (result.ok) throw new Error("expected the body to be refused");
  expect(result.error.status).toBe(400);
  expect(result.error.code).toBe("invalid_events");
  return result.error.details.errors ?? [];
}

function only(result: EventsParse): ItemError {
  const errors = itemErrors(result);
  expect(errors).toHaveLength(1);
  const [error] = errors;
  if (!error) throw new Error("no error");
  return error;
}

describe("parseEvents: one event", () => {
  it("accepts a valid event and defaults its time to now", () => {
    const result = parseEvents(valid, now);
    expect(result).toEqual({
      ok: true,
      batch: false,
      repeats: 0,
      events: [
        {
          index: 0,
          id: "evt_1",
          customer: "acme",
          eventName: "api_calls",
          value: 3,
          occurredAt: now,
          occurredAtDefaulted: true,
        },
      ],
    });
  });

  it("reads an RFC 3339 timestamp with offset, and Unix seconds", () => {
    const rfc = parseEvents({ ...valid, timestamp: "2025-02-01T10:00:00+02:00" }, now);
    const unix = parseEvents({ ...valid, timestamp: 1_738_396_800 }, now);
    expect(rfc.ok && rfc.events[0]?.occurredAt.toISOString()).toBe("2025-02-01T08:00:00.000Z");
    expect(unix.ok && unix.events[0]?.occurredAt.toISOString()).toBe("2025-02-01T08:00:00.000Z");
    expect(rfc.ok && rfc.events[0]?.occurredAtDefaulted).toBe(false);
  });

  it.each([
    ["id", "", "id must be a string of 1 to 100 characters from A-Z a-z 0-9 . _ : -"],
    ["id", "has space", "id must be a string of 1 to 100"],
    ["id", "x".repeat(101), "id must be a string of 1 to 100"],
    ["id", 42, "id must be a string"],
    ["customer", "", "customer must be a customer key"],
    ["customer", 7, "customer must be a customer key"],
    ["event_name", "", "event_name must be a string of 1 to 100 characters"],
    ["event_name", "e".repeat(101), "event_name must be a string of 1 to 100 characters"],
    ["value", -1, "value must be a whole number ≥ 0"],
    ["value", 1.5, "value must be a whole number ≥ 0"],
    ["value", "3", "value must be a whole number ≥ 0"],
    ["value", null, "value must be a whole number ≥ 0"],
    ["value", 2 ** 53, "value must be a whole number ≥ 0 and at most 2^53 − 1"],
    ["timestamp", "2025-02-01T10:00:00", "timestamp must be an RFC 3339 date-time with offset"],
    ["timestamp", "2025-02-30T10:00:00Z", "timestamp must be an RFC 3339 date-time with offset"],
    ["timestamp", "yesterday", "timestamp must be an RFC 3339"],
    ["timestamp", 1_738_396_800_000, "Unix seconds (not milliseconds)"],
    ["timestamp", 1.5, "timestamp must be"],
    ["timestamp", -1, "timestamp must be"],
    ["timestamp", null, "timestamp must be"],
  ])("refuses %s = %j, naming the field and the rule", (field, value, message) => {
    const error = only(parseEvents({ ...valid, [field]: value }, now));
    expect(error).toMatchObject({ index: 0, field, code: "invalid_value" });
    expect(error.message).toContain(message);
  });

  it.each(["id", "customer", "event_name", "value"])("requires %s", (field) => {
    const event: Record<string, unknown> = { ...valid };
    delete event[field];
    expect(only(parseEvents(event, now))).toEqual({
      index: 0,
      field,
      code: "required",
      message: `${field} is required`,
    });
  });

  it("refuses an unknown field, suggesting the one meant", () => {
    const error = only(parseEvents({ ...valid, timestmp: 5 }, now));
    expect(error).toMatchObject({ field: "timestmp", code: "unknown_field" });
    expect(error.message).toContain("timestmp is not a known field; did you mean timestamp?");
  });

  it.each([null, [], "x", 5])("refuses a body that is not an object: %j", (body) => {
    const result = parseEvents(body, now);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatchObject({ status: 400, code: "invalid_body" });
  });
});

describe("parseEvents: a batch", () => {
  it("reports every bad field of every item, each with its index and path", () => {
    const result = parseEvents(
      {
        events: [
          valid,
          { ...valid, id: "ok_2", value: -3 },
          { id: "ok_3", customer: "acme", value: 1, colour: "red" },
          "not an event",
          { ...valid, id: "ok_5", value: 1.25, timestamp: "soon" },
        ],
      },
      now,
    );
    expect(itemErrors(result).map(({ index, field, code }) => ({ index, field, code }))).toEqual([
      { index: 1, field: "events[1].value", code: "invalid_value" },
      { index: 2, field: "events[2].event_name", code: "required" },
      { index: 2, field: "events[2].colour", code: "unknown_field" },
      { index: 3, field: "events[3]", code: "invalid_type" },
      { index: 4, field: "events[4].value", code: "invalid_value" },
      { index: 4, field: "events[4].timestamp", code: "invalid_value" },
    ]);
    const messages = itemErrors(result).map((e) => e.message);
    expect(messages).toContain(
      "events[1].value must be a whole number ≥ 0 and at most 2^53 − 1 (9007199254740991), sent as a JSON number",
    );
    expect(messages).toContain("events[3] must be a JSON object");
  });

  it("folds an id repeated with identical content, and refuses one repeated with other content", () => {
    const same = parseEvents({ events: [valid, { ...valid }, { ...valid, id: "evt_2" }] }, now);
    expect(same.ok && same.events.map((e) => e.id)).toEqual(["evt_1", "evt_2"]);
    expect(same.ok && same.repeats).toBe(1);

    const error = only(
      parseEvents({ events: [valid, { ...valid, id: "b" }, { ...valid, value: 4 }] }, now),
    );
    expect(error).toEqual({
      index: 2,
      field: "events[2].id",
      code: "conflicting_id",
      message: 'events[2].id "evt_1" repeats events[0].id with different content',
    });
  });

  it.each([
    [{ events: [] }, "events must hold 1 to 1000 events (got 0)"],
    [{ events: Array.from({ length: MAX_BATCH + 1 }, () => valid) }, "(got 1001)"],
    [{ events: valid }, "events must be an array"],
    [{ events: [valid], extra: 1 }, "extra: not allowed beside"],
  ])("refuses a malformed batch envelope (%#)", (body, message) => {
    const result = parseEvents(body, now);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe("invalid_body");
      expect(result.error.message).toContain(message);
    }
  });

  it("accepts 1,000 events", () => {
    const events = Array.from({ length: MAX_BATCH }, (_, i) => ({ ...valid, id: `e${i}` }));
    const result = parseEvents({ events }, now);
    expect(result.ok && result.events).toHaveLength(MAX_BATCH);
  });
});

describe("parseEvents: properties", () => {
  const validEvent = fc.record(
    {
      id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,100}$/),
      customer: fc.string({ minLength: 1, maxLength: 255 }),
      event_name: fc.string({ minLength: 1, maxLength: 100 }),
      value: fc.maxSafeNat(),
      // Any time from 1970 to the most ingest accepts ahead of its clock (now + 60 minutes).
      timestamp: fc.oneof(
        fc.integer({ min: 0, max: Math.floor(now.getTime() / 1000) + 3600 }),
        fc
          .date({
            min: new Date("1970-01-01T00:00:00Z"),
            max: new Date(now.getTime() + 3_600_000),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString()),
      ),
    },
    { requiredKeys: ["id", "customer", "event_name", "value"] },
  );

  it("every valid event passes, keeping its id and value", () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        const result = parseEvents(event, now);
        expect(result.ok).toBe(true);
        expect(result.ok && result.events[0]).toMatchObject({ id: event.id, value: event.value });
      }),
    );
  });

  it("any value that is not a safe whole number ≥ 0 fails, naming value", () => {
    const badValue = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ noNaN: false }).filter((v) => !(Number.isSafeInteger(v) && v >= 0)),
      fc.constant(2 ** 53),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.nat()),
    );
    fc.assert(
      fc.property(badValue, (value) => {
        const error = only(parseEvents({ ...valid, value }, now));
        expect(error.field).toBe("value");
        expect(error.message).toMatch(/^value must be a whole number ≥ 0/);
      }),
    );
  });
});
