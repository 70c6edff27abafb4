import { describe, expect, it } from "vitest";
import { ConformanceChecker } from "./openapi/conformance.ts";
import { loadDocument, templateOf } from "./openapi/document.ts";
import { type ResponseToCheck, ResponseValidator } from "./openapi/validator.ts";

// The checks the conformance suite relies on must be able to fail: each case below holds a
// hand-made answer to the document and says what it must find.
const doc = loadDocument();
const validator = new ResponseValidator(doc);
const checker = new ConformanceChecker(doc);

function problems(response: ResponseToCheck): string[] {
  return validator.check(response).problems;
}

const meterEvent = {
  object: "billing.meter_event",
  created: 1_796_000_000,
  event_name: "api_requests",
  identifier: "evt-1",
  livemode: false,
  payload: { stripe_customer_id: "cus_1", value: "3" },
  timestamp: 1_796_000_000,
};
const postMeterEvent = (body: unknown, status = 200): ResponseToCheck => ({
  method: "POST",
  path: "/v1/billing/meter_events",
  status,
  body,
});

const adjustment = {
  object: "billing.meter_event_adjustment",
  cancel: { identifier: "evt-1" },
  event_name: "api_requests",
  livemode: false,
  status: "pending",
  type: "cancel",
};
const postAdjustment = (body: unknown): ResponseToCheck => ({
  method: "POST",
  path: "/v1/billing/meter_event_adjustments",
  status: 200,
  body,
});

const v1Error = (error: Record<string, unknown>, status = 400): ResponseToCheck =>
  postMeterEvent({ error }, status);

describe("the OpenAPI response validator", () => {
  it("accepts a documented resource and names each field that breaks its schema", () => {
    expect(problems(postMeterEvent(meterEvent))).toEqual([]);
    const { identifier: _, ...withoutIdentifier } = meterEvent;
    expect(problems(postMeterEvent(withoutIdentifier))).toEqual([
      "(body) must have required property 'identifier', got " +
        JSON.stringify(withoutIdentifier).slice(0, 120),
    ]);
    expect(problems(postMeterEvent({ ...meterEvent, timestamp: "1796000000" }))).toContain(
      '/timestamp must be integer, got "1796000000"',
    );
    expect(problems(postMeterEvent({ ...meterEvent, object: "meter_event" }))).toContain(
      '/object must be equal to one of the allowed values, got "meter_event"',
    );
    expect(problems(postMeterEvent({ ...meterEvent, payload: { value: 3 } }))).toContain(
      "/payload/value must be string, got 3",
    );
  });

  it("takes null only where the document says nullable", () => {
    expect(problems(postAdjustment({ ...adjustment, cancel: null }))).toEqual([]);
    expect(problems(postAdjustment({ ...adjustment, event_name: null }))).not.toEqual([]);
  });

  it("holds formats to their meaning: unix-time, date-time, decimal", () => {
    expect(problems(postMeterEvent({ ...meterEvent, created: -5 }))).toContain(
      '/created must match format "unix-time", got -5',
    );
    const session = {
      id: "mes_1",
      object: "v2.billing.meter_event_session",
      authentication_token: "ek_test_1",
      created: "2026-11-24T12:00:00.000Z",
      expires_at: "2026-11-24T12:15:00.000Z",
      livemode: false,
    };
    const postSession = (body: unknown): ResponseToCheck => ({
      method: "POST",
      path: "/v2/billing/meter_event_session",
      status: 200,
      body,
    });
    expect(problems(postSession(session))).toEqual([]);
    expect(problems(postSession({ ...session, expires_at: "1796000000" }))).toEqual([
      '/expires_at must match format "date-time", got "1796000000"',
    ]);
  });

  it("v1 errors: error.code must be in api_errors.code's enum, type in its enum, type present", () => {
    const message = "Missing required param: payload.";
    expect(
      problems(v1Error({ type: "invalid_request_error", code: "parameter_missing", message })),
    ).toEqual([]);
    expect(problems(v1Error({ type: "invalid_request_error", message }))).toEqual([]);
    expect(problems(v1Error({ type: "invalid_request_error", code: "made_up", message }))).toEqual([
      '/error/code must be equal to one of the allowed values, got "made_up"',
    ]);
    expect(problems(v1Error({ type: "rate_limit", code: "rate_limit", message }, 429))).toEqual([
      '/error/type must be equal to one of the allowed values, got "rate_limit"',
    ]);
    expect(problems(v1Error({ code: "parameter_missing", message }))).toEqual([
      `/error must have required property 'type', got {"code":"parameter_missing","message":"${message}"}`,
    ]);
  });

  it("v2 errors: code and message are required", () => {
    const stream = (error: Record<string, unknown>): ResponseToCheck => ({
      method: "POST",
      path: "/v2/billing/meter_event_stream",
      status: 401,
      body: { error },
    });
    expect(
      problems(stream({ type: "temporary_session_expired", code: "x", message: "m" })),
    ).toEqual([]);
    expect(problems(stream({ type: "invalid_request_error", message: "m" }))).toContain(
      `/error must have required property 'code', got {"type":"invalid_request_error","message":"m"}`,
    );
  });

  it("the v2 stream's 200 is an empty object and nothing more", () => {
    const stream = (body: unknown): ResponseToCheck => ({
      method: "POST",
      path: "/v2/billing/meter_event_stream",
      status: 200,
      body,
    });
    expect(problems(stream({}))).toEqual([]);
    expect(problems(stream({ accepted: 1 }))).toEqual([
      '(body) must NOT have additional properties, got {"accepted":1}',
    ]);
  });

  it("an undocumented status or path is a non-conformance; an undocumented path may still answer a well-formed error", () => {
    expect(problems(postMeterEvent(meterEvent, 201))).toEqual([
      "status 201 is not documented (200, default)",
    ]);
    expect(problems({ method: "GET", path: "/v1/things", status: 200, body: {} })).toEqual([
      "GET /v1/things answered 200, but the document has no such operation",
    ]);
    const unknownUrl = { type: "invalid_request_error", message: "Unrecognized request URL" };
    expect(
      problems({ method: "GET", path: "/v1/things", status: 404, body: { error: unknownUrl } }),
    ).toEqual([]);
    expect(
      problems({ method: "GET", path: "/v2/things", status: 404, body: { error: unknownUrl } }),
    ).toEqual([`/error must have required property 'code', got ${JSON.stringify(unknownUrl)}`]);
  });

  it("finds a concrete path's template, literal segments before parameters", () => {
    expect(templateOf(doc, "/v1/customers/cus_1")).toBe("/v1/customers/{customer}");
    expect(templateOf(doc, "/v1/customers")).toBe("/v1/customers");
    expect(templateOf(doc, "/v1/billing/meters/mtr_1/deactivate")).toBe(
      "/v1/billing/meters/{id}/deactivate",
    );
    expect(templateOf(doc, "/v1/subscription_items/si_1/usage_record_summaries")).toBe(
      "/v1/subscription_items/{subscription_item}/usage_record_summaries",
    );
    expect(templateOf(doc, "/v1/customers/cus_1/extra")).toBeNull();
  });

  it("holds the legacy usage record summaries to Meterline's supplement of the document", () => {
    const summary = {
      id: "sis_1",
      object: "usage_record_summary",
      invoice: null,
      livemode: false,
      period: { start: 1_796_000_000, end: 1_798_000_000 },
      subscription_item: "si_1",
      total_usage: 4,
    };
    const list = (data: unknown[]): ResponseToCheck => ({
      method: "GET",
      path: "/v1/subscription_items/si_1/usage_record_summaries",
      status: 200,
      body: { object: "list", data, has_more: false, url: "/v1/…" },
    });
    expect(problems(list([summary]))).toEqual([]);
    expect(problems(list([{ ...summary, total_usage: 1.5 }]))).toEqual([
      "/data/0/total_usage must be integer, got 1.5",
    ]);
  });
});

describe("the conformance check of recorded exchanges", () => {
  it("forgives a deliberate departure only on the operation it is declared for", () => {
    const error = {
      type: "invalid_request_error",
      code: "timestamp_in_future",
      message: "Timestamp 1 is in the future",
      param: "timestamp",
    };
    const body = JSON.stringify({ error });
    const onMeterEvents = checker.check({
      method: "POST",
      path: "/v1/billing/meter_events",
      status: 400,
      body,
    });
    expect(onMeterEvents.verdict.problems).toEqual([]);
    expect(onMeterEvents.forgiven?.codes).toContain("timestamp_in_future");
    const onCustomers = checker.check({ method: "POST", path: "/v1/customers", status: 400, body });
    expect(onCustomers.forgiven).toBeNull();
    expect(onCustomers.verdict.problems).toEqual([
      '/error/code must be equal to one of the allowed values, got "timestamp_in_future"',
    ]);
  });

  it("an answer that is not JSON is a non-conformance", () => {
    const checked = checker.check({
      method: "GET",
      path: "/v1/customers",
      status: 200,
      body: "ok",
    });
    expect(checked.verdict.problems).toEqual(['body is not JSON: "ok"']);
  });
});
