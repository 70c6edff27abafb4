import { describe, expect, it } from "vitest";
import { classify } from "../../src/reporter/classify.ts";
import type { SendResult } from "../../src/reporter/sinks/port.ts";

/** A Stripe error answer, with only what a case needs spelled out. */
function http(
  status: number,
  fields: Partial<Omit<Extract<SendResult, { kind: "http_error" }>, "kind" | "status">> = {},
): SendResult {
  return {
    kind: "http_error",
    status,
    type: "invalid_request_error",
    code: null,
    message: "something",
    param: null,
    shouldRetry: null,
    requestId: "req_1",
    ...fields,
  };
}

// One case per row of design.md §4's outcome table, in its order, named after the row.
describe("classify: the outcome table", () => {
  it("2xx → delivered", () => {
    const o = classify({ kind: "ok", status: 200, requestId: "req_ok" });
    expect(o).toMatchObject({ kind: "delivered", duplicate: false });
    expect(o.answer.requestId).toBe("req_ok");
  });

  it('400 "An event already exists with identifier …" (Stripe-Should-Retry: false) → delivered (duplicate)', () => {
    const o = classify(
      http(400, {
        message: "An event already exists with identifier evt_1.",
        param: "identifier",
        shouldRetry: false,
      }),
    );
    expect(o).toMatchObject({ kind: "delivered", duplicate: true });
  });

  describe("connection error, timeout, 500/502/503/504, 409 → retry, ambiguous", () => {
    it.each([
      ["connection error", { kind: "network", message: "ECONNRESET", timeout: false } as const],
      ["timeout", { kind: "network", message: "timed out", timeout: true } as const],
      ["500", http(500, { type: "api_error" })],
      ["502", http(502)],
      ["503", http(503)],
      ["504", http(504)],
      ["409", http(409, { code: "idempotency_key_in_use" })],
    ])("%s", (_name, result: SendResult) => {
      expect(classify(result)).toMatchObject({ kind: "retry", ambiguous: true });
    });

    it("a timeout is recorded as code timeout, a connection error as connection_error", () => {
      expect(classify({ kind: "network", message: "x", timeout: true }).answer.code).toBe(
        "timeout",
      );
      expect(classify({ kind: "network", message: "x", timeout: false }).answer.code).toBe(
        "connection_error",
      );
    });
  });

  describe("429 rate limit or lock_timeout → throttled", () => {
    it.each([
      ["429 rate_limit", http(429, { code: "rate_limit" })],
      ["429 without a code", http(429)],
      ["lock_timeout", http(400, { code: "lock_timeout" })],
      ["400 rate_limit", http(400, { code: "rate_limit" })],
    ])("%s", (_name, result) => {
      expect(classify(result).kind).toBe("throttled");
    });
  });

  describe("401 (revoked key), 403 (restricted key), account-level errors → halt the account", () => {
    it.each([
      ["401 invalid key", http(401, { message: "Invalid API Key provided: sk_test_***abcd" })],
      ["401 api_key_expired", http(401, { code: "api_key_expired" })],
      ["403 restricted key", http(403, { type: "invalid_request_error" })],
      ["400 account_invalid", http(400, { code: "account_invalid" })],
      ["400 platform_api_key_expired", http(400, { code: "platform_api_key_expired" })],
      ["400 secret_key_required", http(400, { code: "secret_key_required" })],
      ["400 testmode_charges_only", http(400, { code: "testmode_charges_only" })],
      ["400 livemode_mismatch", http(400, { code: "livemode_mismatch" })],
      [
        "404 unrecognized request URL (wrong API base)",
        http(404, { message: "Unrecognized request URL (POST: /v1/billing/meter_eventz)." }),
      ],
    ])("%s", (_name, result) => {
      expect(classify(result).kind).toBe("halt");
    });
  });

  it("v2 session expired → refresh the session, resend at once", () => {
    const o = classify(http(401, { code: "billing_meter_event_session_expired" }));
    expect(o.kind).toBe("refresh_session");
    const typed = classify(http(401, { type: "temporary_session_expired" }));
    expect(typed.kind).toBe("refresh_session");
  });

  describe("400/404 about this customer (deleted, missing, wrong subscription item) → rejected, customer scope", () => {
    it.each([
      [
        "404 resource_missing, param customer",
        http(404, {
          code: "resource_missing",
          param: "customer",
          message: "No such customer: 'cus_x'",
        }),
      ],
      [
        "400 about payload[stripe_customer_id]",
        http(400, { code: "parameter_invalid_string", param: "payload[stripe_customer_id]" }),
      ],
      ["400 customer deleted", http(400, { message: "This customer has been deleted." })],
      [
        "404 no such subscription item",
        http(404, {
          code: "resource_missing",
          param: "subscription_item",
          message: "No such subscription_item: 'si_x'",
        }),
      ],
      ["meter_event_customer_not_found", http(400, { code: "meter_event_customer_not_found" })],
    ])("%s", (_name, result) => {
      expect(classify(result)).toMatchObject({ kind: "rejected", scope: "customer" });
    });
  });

  describe("400/404 about this event (bad value, timestamp outside the period) → rejected, event scope", () => {
    it.each([
      ["bad value", http(400, { code: "meter_event_invalid_value", param: "payload[value]" })],
      [
        "timestamp older than 35 days",
        http(400, { code: "timestamp_too_far_in_past", param: "timestamp" }),
      ],
      [
        "timestamp outside the billing period (usage records)",
        http(400, { message: "Cannot create usage records for timestamps outside the period" }),
      ],
      [
        "identifier too long",
        http(400, {
          param: "identifier",
          message: "Invalid string: poison-customer-deleted-...; must be at most 100 characters",
        }),
      ],
      ["parameter_invalid_integer", http(400, { code: "parameter_invalid_integer" })],
      ["404 without a customer", http(404, { code: "resource_missing", param: "id" })],
    ])("%s", (_name, result) => {
      expect(classify(result)).toMatchObject({ kind: "rejected", scope: "event" });
    });
  });

  // "The same rejection code across many customers in a short window → systemic" and "retries
  // exhausted / dedup window" are decisions over many events or over time: see systemic.ts and
  // decide.test.ts. One answer alone is classified as above.
});

describe("classify: refinements beyond the table", () => {
  it("a 400 about the meter (payload keys, archived meter) parks the event: meter scope, never failed", () => {
    expect(
      classify(
        http(400, {
          code: "meter_event_no_customer_defined",
          param: "payload[stripe_customer_id]",
        }),
      ).kind,
    ).toBe("parked");
    expect(classify(http(400, { code: "archived_meter" })).kind).toBe("parked");
    expect(classify(http(400, { code: "parameter_missing", param: "payload[value]" })).kind).toBe(
      "parked",
    );
  });

  it("400 timestamp_in_future (Stripe's clock behind ours) → retry, not ambiguous", () => {
    expect(classify(http(400, { code: "timestamp_in_future", param: "timestamp" }))).toMatchObject({
      kind: "retry",
      ambiguous: false,
    });
  });

  it("an unexpected 3xx → retry, ambiguous: nothing says it was not applied", () => {
    expect(classify(http(302))).toMatchObject({ kind: "retry", ambiguous: true });
  });
});

describe("classify: Stripe-Should-Retry overrides", () => {
  it("true on a 4xx → retry (not ambiguous: a 4xx applied nothing)", () => {
    expect(
      classify(http(400, { code: "parameter_invalid_integer", shouldRetry: true })),
    ).toMatchObject({ kind: "retry", ambiguous: false });
    expect(
      classify(http(404, { code: "resource_missing", param: "customer", shouldRetry: true })),
    ).toMatchObject({ kind: "retry", ambiguous: false });
  });

  it("false on a 5xx → still retry, ambiguous (the header speaks of replaying the same key)", () => {
    expect(classify(http(500, { type: "api_error", shouldRetry: false }))).toMatchObject({
      kind: "retry",
      ambiguous: true,
    });
    expect(classify(http(503, { shouldRetry: false })).kind).toBe("retry");
  });

  it("never turns a 401 or 403 into a failure or a counted retry", () => {
    for (const shouldRetry of [true, false]) {
      expect(classify(http(401, { shouldRetry })).kind).toBe("halt");
      expect(classify(http(403, { shouldRetry })).kind).toBe("halt");
    }
  });

  it("false on the duplicate-identifier 400 means delivered, not rejected", () => {
    const o = classify(
      http(400, { message: "An event already exists with identifier a.", shouldRetry: false }),
    );
    expect(o.kind).toBe("delivered");
  });

  it("false on a 429 is still throttled: the rate limit is ours, not the event's", () => {
    expect(classify(http(429, { code: "rate_limit", shouldRetry: false })).kind).toBe("throttled");
  });
});

describe("classify: a sink whose only dedup is the idempotency key (usage records)", () => {
  it("a 5xx replayed under an idempotency key → verify against Stripe's totals, never a blind resend", () => {
    const stored = http(500, { type: "api_error", shouldRetry: false });
    expect(classify(stored, "idempotency_key").kind).toBe("verify");
    // Under an identifier the same 500 is an ambiguous retry: the resend is a new request.
    expect(classify(stored).kind).toBe("retry");
  });

  it("the key reused with other parameters (an item corrected since) → verify, not an event-scope rejection", () => {
    const reused = http(400, { type: "idempotency_error", code: "idempotency_error" });
    expect(classify(reused, "idempotency_key").kind).toBe("verify");
  });
});
