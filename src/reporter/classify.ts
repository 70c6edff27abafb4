import type { DedupBy, SendResult } from "./sinks/port.ts";

/** Stripe's answer to one attempt, flattened to what the outbox records and a person reads. */
export interface Answer {
  /** HTTP status, or null when no response arrived (connection error, timeout). */
  httpStatus: number | null;
  /** Stripe's error.code, or a Meterline code for answers without one (network, timeout). */
  code: string | null;
  /** Stripe's error.type, e.g. invalid_request_error. */
  type: string | null;
  param: string | null;
  message: string;
  requestId: string | null;
}

/** Where a rejection's cause lives: it decides what the rejection may touch. */
export type RejectionScope = "customer" | "event";

/** What one attempt means for the event, before state and time are taken into account. */
export type Outcome =
  /** Stripe holds the event (a duplicate means an earlier attempt delivered it). */
  | { kind: "delivered"; duplicate: boolean; rule: string; answer: Answer }
  /**
   * Transient: send again later, counting the attempt. Ambiguous: Stripe may have applied it.
   * newKey: resend under the next Idempotency-Key (a stored 5xx proven unapplied).
   */
  | { kind: "retry"; ambiguous: boolean; rule: string; answer: Answer; newKey?: boolean }
  /** Rate limited: slow down; the event is not at fault, so no attempt is counted. */
  | { kind: "throttled"; rule: string; answer: Answer }
  /** The whole account cannot send (key revoked, restricted, misconfigured): halt, count nothing. */
  | { kind: "halt"; rule: string; answer: Answer }
  /** The v2 session token expired: refresh it and resend at once. */
  | { kind: "refresh_session"; rule: string; answer: Answer }
  /** Stripe refused the meter itself (archived, missing, payload keys): park, never fail. */
  | { kind: "parked"; rule: string; answer: Answer }
  /** Stripe refused this event for good; the scope says whether the customer or the event is wrong. */
  | { kind: "rejected"; scope: RejectionScope; rule: string; answer: Answer }
  /**
   * A 5xx under an idempotency key: Stripe stored it and will replay it for that key, whether or
   * not the record was applied. Only Stripe's totals can tell (verify-stored.ts).
   */
  | { kind: "verify"; rule: string; answer: Answer }
  /** A stored 5xx that Stripe's totals could not explain: a person compares the figures. */
  | { kind: "unverified"; rule: string; answer: Answer; figures: string };

/**
 * Codes that describe the account or its key, never one event: halting is the only safe answer.
 * Failing events for these would turn a revoked key into silent data loss.
 */
const ACCOUNT_CODES = new Set([
  "account_invalid",
  "api_key_expired",
  "platform_api_key_expired",
  "platform_account_required",
  "secret_key_required",
  "testmode_charges_only",
  "livemode_mismatch",
  "request_blocked",
  "insufficient_permissions",
]);

/** Codes Stripe uses (synchronously or in error reports) for a customer it cannot bill. */
const CUSTOMER_CODES = new Set(["customer_deleted", "meter_event_customer_not_found"]);

/** Codes for a meter Stripe cannot use: every event of the meter would fail alike. */
const METER_CODES = new Set([
  "archived_meter",
  "no_meter",
  // The payload lacks the key the Stripe meter maps customers or dimensions from: the meter's
  // configured key names differ from Stripe's, not this event.
  "meter_event_no_customer_defined",
  "missing_dimension_payload_keys",
]);

const DUPLICATE = /^an event already exists with identifier/i;
const CUSTOMER_MESSAGE = /no such customer|customer\b.*\bdeleted|no such subscription.?item/i;
const METER_MESSAGE = /no (active )?meter|meter\b.*\b(archived|inactive|deactivated)/i;
const UNKNOWN_URL = /unrecognized request url/i;

type HttpError = Extract<SendResult, { kind: "http_error" }>;

function answerOf(result: SendResult): Answer {
  switch (result.kind) {
    case "ok":
      return {
        httpStatus: result.status,
        code: null,
        type: null,
        param: null,
        message: "accepted",
        requestId: result.requestId,
      };
    case "http_error":
      return {
        httpStatus: result.status,
        code: result.code,
        type: result.type,
        param: result.param,
        message: result.message,
        requestId: result.requestId,
      };
    case "network":
      return {
        httpStatus: null,
        code: result.timeout ? "timeout" : "connection_error",
        type: null,
        param: null,
        message: result.message,
        requestId: null,
      };
  }
}

// Messages can quote what we sent (an identifier, a value), so they are read only when Stripe
// gave no param and no code to go by: an event id containing "customer" must not steer a rule.
function aboutCustomer(e: HttpError): boolean {
  if (e.code !== null && CUSTOMER_CODES.has(e.code)) return true;
  // A usage record's 404 names the subscription item of the URL, never anything of the event:
  // the customer's item is wrong, whatever param Stripe names.
  if (e.status === 404 && /^no such subscription.?item/i.test(e.message)) return true;
  if (e.param !== null) return /customer|subscription_item/i.test(e.param);
  return e.code === null && CUSTOMER_MESSAGE.test(e.message);
}

function aboutMeter(e: HttpError): boolean {
  if (e.code !== null && METER_CODES.has(e.code)) return true;
  // A payload key missing from what we sent can only mean the meter's configured keys differ
  // from Stripe's meter: every event of the meter would be refused alike.
  if (e.code === "parameter_missing" && (e.param ?? "").startsWith("payload")) return true;
  return e.code === null && e.param === null && METER_MESSAGE.test(e.message);
}

/**
 * Turns what came back from one attempt into an outcome. An ordered list of rules, first match
 * wins; each rule is one row of design.md §4's outcome table (or a refinement of one).
 */
export function classify(result: SendResult, dedup: DedupBy = "identifier"): Outcome {
  const answer = answerOf(result);

  // 2xx: Stripe holds the event.
  if (result.kind === "ok") return { kind: "delivered", duplicate: false, rule: "2xx", answer };

  // Connection error or timeout: the request may have reached Stripe and been applied.
  // The identifier makes a resend safe, so retry; the dedup window starts counting.
  if (result.kind === "network") {
    const rule = result.timeout ? "timeout" : "connection error";
    return { kind: "retry", ambiguous: true, rule, answer };
  }

  const e = result;
  const s = e.status;

  // 2xx can also surface here if a sink reports it oddly; it is still a delivery.
  if (s >= 200 && s < 300) return { kind: "delivered", duplicate: false, rule: "2xx", answer };

  // 400 "An event already exists with identifier …": an earlier attempt delivered it.
  // Checked before any Stripe-Should-Retry rule: Stripe sends `false` here, and it means success.
  if (s === 400 && DUPLICATE.test(e.message)) {
    return { kind: "delivered", duplicate: true, rule: "duplicate identifier", answer };
  }

  // v2 session expired (401 billing_meter_event_session_expired): refresh and resend. Before the
  // 401 rule, because this 401 is about a 15-minute token, not the account's key.
  if (e.code === "billing_meter_event_session_expired" || e.type === "temporary_session_expired") {
    return { kind: "refresh_session", rule: "v2 session expired", answer };
  }

  // 401 (revoked or expired key) and 403 (restricted key): the whole account is stopped.
  // No header may turn these into a failure or a counted retry: they say nothing about the event.
  if (s === 401) return { kind: "halt", rule: "401 authentication", answer };
  if (s === 403) return { kind: "halt", rule: "403 permission", answer };

  // Account-level codes, whatever the status: same blast radius as a 401.
  if (e.code !== null && ACCOUNT_CODES.has(e.code)) {
    return { kind: "halt", rule: "account-level code", answer };
  }

  // 404 "Unrecognized request URL": a wrong API base or version, i.e. our deployment, not the
  // event. Failing events for it would dead-letter the whole queue.
  if (s === 404 && UNKNOWN_URL.test(e.message)) {
    return { kind: "halt", rule: "unrecognized URL", answer };
  }

  // 429, or lock_timeout / rate_limit codes: slow down; the event did nothing wrong.
  if (s === 429 || e.code === "lock_timeout" || e.code === "rate_limit") {
    return { kind: "throttled", rule: "429 / lock_timeout", answer };
  }

  // The idempotency key was used before with other parameters (usage records whose item an
  // operator corrected, say): Stripe did not execute this request, and its stored answer for the
  // key cannot be read. Whether the record is held is a question for Stripe's totals.
  if (
    dedup === "idempotency_key" &&
    (e.type === "idempotency_error" || e.code === "idempotency_error")
  ) {
    return { kind: "verify", rule: "idempotency key reused with other parameters", answer };
  }

  // 5xx under an idempotency key (usage records): Stripe stored this answer under the key and
  // replays it on every resend for 24 h, applied or not. Resending as it is can never succeed,
  // and failing it could drop a record Stripe holds: ask Stripe's totals.
  if (s >= 500 && dedup === "idempotency_key") {
    return { kind: "verify", rule: `${s} stored under the idempotency key`, answer };
  }

  // 5xx: Stripe failed, perhaps after applying the event: retry, ambiguous.
  // Stripe-Should-Retry: false is deliberately ignored here. Stripe sends it on most 500s because
  // its idempotency layer would replay the same stored 500 for the same Idempotency-Key; an
  // identifier sink's resend is a new request (stripe-node makes a new key per SDK call, and our
  // meter events carry no key of ours) that the identifier dedups. Treating it as a rejection
  // would dead-letter events Stripe may well hold.
  if (s >= 500) return { kind: "retry", ambiguous: true, rule: `${s} server error`, answer };

  // 409 (idempotency key in use, conflict): another request is in progress; it may apply.
  if (s === 409) return { kind: "retry", ambiguous: true, rule: "409 conflict", answer };

  // 400 timestamp_in_future: pre-flight keeps a minute inside Stripe's 5 minutes, so this means
  // Stripe's clock is behind ours. The event becomes valid by waiting: retry, not ambiguous (a
  // 400 applied nothing). Failing it would dead-letter good usage over clock skew.
  if (e.code === "timestamp_in_future") {
    return { kind: "retry", ambiguous: false, rule: "timestamp in future (clock skew)", answer };
  }

  // Stripe-Should-Retry: true on any other 4xx: Stripe says a resend can succeed. A 4xx was
  // not applied, so the retry is not ambiguous.
  if (e.shouldRetry === true && s >= 400 && s < 500) {
    return { kind: "retry", ambiguous: false, rule: "Stripe-Should-Retry: true", answer };
  }

  if (s >= 400 && s < 500) {
    // About the meter (archived, unknown, payload keys): meter scope parks, never fails.
    if (aboutMeter(e)) return { kind: "parked", rule: "rejected, meter scope", answer };
    // About this customer (missing, deleted, no such subscription item): the customer is wrong.
    if (aboutCustomer(e)) {
      return { kind: "rejected", scope: "customer", rule: "rejected, customer scope", answer };
    }
    // Anything else about the request (bad value, timestamp window, identifier too long,
    // parameter_invalid_*): this event is wrong and no resend can fix it.
    return { kind: "rejected", scope: "event", rule: "rejected, event scope", answer };
  }

  // 1xx/3xx: not something Stripe's API answers; we cannot know what happened. Retry, ambiguous.
  return { kind: "retry", ambiguous: true, rule: `unexpected ${s}`, answer };
}
