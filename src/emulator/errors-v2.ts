import { StripeHttpError } from "./errors.ts";

/**
 * Errors of the v2 API (meter event session and stream). The envelope is v1's `{"error": …}`,
 * but stripe-node picks the class from `type` first (`generateV2Error`), so the type matters:
 * `temporary_session_expired` → TemporarySessionExpiredError, `rate_limit` → RateLimitError;
 * any other type falls back to the v1 mapping by status.
 */

/**
 * 401 for an expired meter event session token: Stripe's documented code and type
 * (`v2.error.billing_meter_event_session_expired` in the OpenAPI spec). The message is
 * *unverified*.
 */
export function sessionExpired(): StripeHttpError {
  return new StripeHttpError(401, {
    type: "temporary_session_expired",
    code: "billing_meter_event_session_expired",
    message:
      "The meter event session authentication token has expired. Create a new meter event session.",
  });
}

/**
 * 401 for a stream request without a session token, or with one the emulator never issued.
 * *Unverified* wording; stripe-node maps it to StripeAuthenticationError by the status.
 */
export function invalidSessionToken(): StripeHttpError {
  return new StripeHttpError(401, {
    type: "invalid_request_error",
    message:
      "Invalid or missing meter event session authentication token. Create a meter event session and send its authentication_token as the Bearer token.",
  });
}

/**
 * 400 for a v2 request whose JSON does not fit the endpoint. stripe-node reads code
 * `invalid_fields` as StripeInvalidRequestError; the message format is *unverified*.
 */
export function invalidFields(field: string, rule: string): StripeHttpError {
  return new StripeHttpError(400, {
    type: "invalid_request_error",
    code: "invalid_fields",
    message: `${field}: ${rule}`,
    param: field,
  });
}
