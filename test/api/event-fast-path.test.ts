import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plainEvent } from "../../src/ingest/event-fast-path.ts";
import { eventSchema, MAX_UNIX_SECONDS } from "../../src/ingest/event-input.ts";

// Strings near every rule's edges: empty, long, id characters and others, NUL, lone surrogates.
const text = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.string({ minLength: 99, maxLength: 101 }),
  fc.string({ minLength: 254, maxLength: 256 }),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,12}$/),
  fc.constantFrom("", "a\u0000b", "\ud800", "x\udfffy", "😀", "a b", "é", "1e3", "__proto__"),
);
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    -1,
    -0,
    0,
    0.5,
    2 ** 53 - 1,
    2 ** 53,
    MAX_UNIX_SECONDS,
    MAX_UNIX_SECONDS + 1,
    Number.NaN,
  ),
);
const fieldValue = fc.oneof(
  text,
  number,
  fc.constantFrom(null, true, [], {}, "2025-01-31T12:00:00Z", "5"),
);
// Valid items with one field or another pushed to or past an edge now and then.
const edgy = <T>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<unknown>) =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: edge, weight: 1 });
const mostlyValid = fc.record(
  {
    id: edgy(fc.stringMatching(/^[A-Za-z0-9._:-]{1,100}$/), text),
    customer: edgy(fc.string({ minLength: 1, maxLength: 255 }), text),
    event_name: edgy(fc.string({ minLength: 1, maxLength: 100 }), text),
    value: edgy(fc.maxSafeNat(), number),
    timestamp: edgy(fc.integer({ min: 0, max: MAX_UNIX_SECONDS }), fieldValue),
  },
  { requiredKeys: ["id", "customer", "event_name", "value"] },
);
const item = fc.oneof(
  { arbitrary: mostlyValid, weight: 3 },
  // Mostly well-formed, with each field drawn from the edges above.
  fc.record(
    { id: text, customer: text, event_name: text, value: number, timestamp: number },
    { requiredKeys: ["id", "customer", "event_name", "value"] },
  ),
  fc.record(
    {
      id: fieldValue,
      customer: fieldValue,
      event_name: fieldValue,
      value: fieldValue,
      timestamp: fieldValue,
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(
    fc.constantFrom("id", "customer", "event_name", "value", "timestamp", "extra", "Id"),
    fieldValue,
  ),
  fc.constantFrom(null, 1, "x", [], [{}]),
);

describe("the fast path of event validation", () => {
  it("accepts only what the schema accepts, with the same fields", () => {
    fc.assert(
      fc.property(item, (candidate) => {
        const fast = plainEvent(candidate, MAX_UNIX_SECONDS);
        if (fast === null) return;
        const judged = eventSchema.safeParse(candidate);
        expect(judged.success).toBe(true);
        expect({ ...fast }).toEqual({ ...judged.data });
      }),
      { numRuns: 20_000 },
    );
  });

  it("takes the common item: all fields valid, the timestamp absent or whole seconds", () => {
    const base = { id: "evt_1", customer: "acme", event_name: "api_calls", value: 3 };
    expect(plainEvent(base, MAX_UNIX_SECONDS)).toEqual(base);
    expect(plainEvent({ ...base, timestamp: 1_738_396_800 }, MAX_UNIX_SECONDS)).not.toBeNull();
    // Left to the schema: an RFC 3339 timestamp, an unknown key, a value as a string.
    expect(plainEvent({ ...base, timestamp: "2025-01-31T12:00:00Z" }, MAX_UNIX_SECONDS)).toBeNull();
    expect(plainEvent({ ...base, extra: 1 }, MAX_UNIX_SECONDS)).toBeNull();
    expect(plainEvent({ ...base, value: "3" }, MAX_UNIX_SECONDS)).toBeNull();
  });
});
