import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEvents } from "../../src/ingest/event-input.ts";
import { checkFilter } from "../../src/ops/dead-letters-filter.ts";
import { backends } from "../support/db.ts";
import { apiError, seed, startApi, type TestApi } from "./harness.ts";

// Postgres text cannot hold NUL: before the guard, each of these reached the database and the
// client got a 500 for its own mistake. Now: 400 invalid_characters naming the field.
const NUL_RULE = "must not contain NUL (\\u0000): Postgres text cannot hold it";

describe.each(backends)("text Postgres cannot store is refused with 400 on %s", (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
    await seed(api.db, { customers: ["acme"], meters: ["api_calls"] });
  });
  afterAll(() => api?.close());

  const event = { id: "evt_1", customer: "acme", event_name: "api_calls", value: 1 };

  /** Sends the request and checks the refusal: 400, invalid_characters, the field, the rule. */
  async function refused(options: InjectOptions, field: string) {
    const res = await api.call(options);
    expect(res.statusCode, res.body).toBe(400);
    expect(apiError(res)).toMatchObject({ code: "invalid_characters", field });
    expect(apiError(res).message).toContain(field);
    return apiError(res);
  }

  describe("in an event", () => {
    it.each([
      ["id", { ...event, id: "evt\u00001" }, "id"],
      ["customer", { ...event, customer: "ac\u0000me" }, "customer"],
      ["event_name", { ...event, event_name: "api_calls\u0000" }, "event_name"],
      [
        "a batch item's customer",
        { events: [event, { ...event, id: "evt_2", customer: "\u0000" }] },
        "events[1].customer",
      ],
    ])(
      "NUL in %s → 400 naming it, and nothing of the batch is stored",
      async (_, payload, field) => {
        const error = await refused({ method: "POST", url: "/v1/events", payload }, field);
        expect(error.message).toBe(`${field} ${NUL_RULE}`);
        const stored = await api.call({ method: "GET", url: "/v1/events/evt_1" });
        expect(stored.statusCode).toBe(404);
      },
    );

    it("an unpaired surrogate is refused too, rather than silently stored as U+FFFD", async () => {
      const payload = { ...event, customer: "acme\ud800" };
      const error = await refused({ method: "POST", url: "/v1/events", payload }, "customer");
      expect(error.message).toContain("unpaired surrogate");
    });

    it("lists every field at fault, each with its item's index", async () => {
      const payload = {
        events: [
          { ...event, customer: "a\u0000" },
          event,
          { ...event, id: "evt_3", event_name: "b\u0000", customer: "c\u0000" },
        ],
      };
      const error = await refused(
        { method: "POST", url: "/v1/events", payload },
        "events[0].customer",
      );
      expect(error.errors?.map(({ index, field }) => ({ index, field }))).toEqual([
        { index: 0, field: "events[0].customer" },
        { index: 2, field: "events[2].customer" },
        { index: 2, field: "events[2].event_name" },
      ]);
    });
  });

  describe("anywhere in a JSON body", () => {
    it("in a field name → 400 naming the field", async () => {
      const payload = { ...event, "colo\u0000ur": "red" };
      const error = await refused({ method: "POST", url: "/v1/events", payload }, "colo\u0000ur");
      expect(error.message).toBe(`field name colo\u0000ur ${NUL_RULE}`);
    });

    it("deep in a nested body: named by a path cut to its two ends", async () => {
      const depth = 5_000;
      const payload = `{"events":${"[".repeat(depth)}"\\u0000"${"]".repeat(depth)}}`;
      const res = await api.call({
        method: "POST",
        url: "/v1/events",
        headers: { "content-type": "application/json" },
        payload,
      });
      expect(res.statusCode).toBe(400);
      expect(apiError(res).code).toBe("invalid_characters");
      expect(apiError(res).field).toMatch(/^events\[0\]\[0\].*….*\[0\]$/);
      expect(res.body.length).toBeLessThan(2_000);
    });
  });

  describe("in a path parameter", () => {
    it.each<[string, string, string, object?]>([
      ["GET", "/v1/events/evt%001", "id"],
      ["GET", "/v1/customers/ac%00me", "key"],
      ["PUT", "/v1/customers/ac%00me", "key", {}],
      ["DELETE", "/v1/customers/ac%00me", "key"],
      ["GET", "/v1/meters/api%00calls", "event_name"],
      ["PUT", "/v1/meters/api%00calls", "event_name", {}],
      [
        "PUT",
        "/v1/customers/ac%00me/subscription_items/api_calls",
        "key",
        { subscription_item_id: null },
      ],
      [
        "PUT",
        "/v1/customers/acme/subscription_items/api%00calls",
        "event_name",
        { subscription_item_id: null },
      ],
    ])("%s %s → 400 naming %s", async (method, url, field, payload) => {
      const error = await refused(
        { method: method as InjectOptions["method"], url, ...(payload ? { payload } : {}) },
        field,
      );
      expect(error.message).toBe(`${field} ${NUL_RULE}`);
    });
  });

  describe("in a dead-letter filter", () => {
    it.each(["code", "customer", "event_name", "older_than"])(
      "GET /v1/dead-letters?%s=<NUL> → 400 naming the parameter",
      async (name) => {
        await refused({ method: "GET", url: `/v1/dead-letters?${name}=x%00y` }, name);
      },
    );

    it("GET /v1/customers?stripe_customer_id=<NUL> → 400 naming it", async () => {
      await refused(
        { method: "GET", url: "/v1/customers?stripe_customer_id=cus_a%00" },
        "stripe_customer_id",
      );
    });

    it.each(["retry", "discard", "resolve"])(
      "POST /v1/dead-letters/%s with NUL in the filter → 400 naming filter.customer",
      async (action) => {
        await refused(
          {
            method: "POST",
            url: `/v1/dead-letters/${action}`,
            payload: { filter: { customer: "ac\u0000me" } },
          },
          "filter.customer",
        );
      },
    );

    it("POST /v1/dead-letters/retry with NUL in the note → 400 naming note", async () => {
      await refused(
        {
          method: "POST",
          url: "/v1/dead-letters/retry",
          payload: { filter: {}, note: "why\u0000", dry_run: true },
        },
        "note",
      );
    });
  });
});

// For callers that are not the HTTP API (the CLI checks a dead-letter filter before sending it).
describe("the event and filter schemas refuse it themselves", () => {
  it("parseEvents names the field with invalid_characters", () => {
    const result = parseEvents(
      { id: "e", customer: "ac\u0000me", event_name: "api_calls", value: 1 },
      new Date(),
    );
    expect(result.ok ? null : result.error.details.errors).toEqual([
      {
        index: 0,
        field: "customer",
        code: "invalid_characters",
        message: `customer ${NUL_RULE}`,
      },
    ]);
  });

  it("checkFilter names the field with invalid_characters", () => {
    const check = checkFilter({ event_name: "api\u0000" }, "filter.");
    expect(check.ok ? null : check.errors).toEqual([
      {
        index: 0,
        field: "filter.event_name",
        code: "invalid_characters",
        message: `filter.event_name ${NUL_RULE}`,
      },
    ]);
  });
});
