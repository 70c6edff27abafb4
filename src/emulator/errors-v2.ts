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
 * *Unverified* wording and code (see `asV2Error`); stripe-node maps it to
 * StripeAuthenticationError by the status.
 */
export function invalidSessionToken(): StripeHttpError {
  return asV2Error(
    new StripeHttpError(401, {
      type: "invalid_request_error",
      message:
        "Invalid or missing meter event session authentication token. Create a meter event session and send its authentication_token as the Bearer token.",
    }),
  );
}

/**
 * The code of a v2 error the emulator answers without one of Stripe's: `not_found` is the
 * document's own (GET /v2/core/events/{id}); the others name the status, *unverified*.
 */
function v2CodeFor(status: number): string {
  if (status === 401) return "unauthenticated";
  if (status === 404) return "not_found";
  return status >= 500 ? "internal_error" : "invalid_request";
}

/**
 * The v2 form of an error: the same status, type, message and headers, with a `code` when the
 * error has none. Stripe's v2 errors always carry one (the document's v2.error requires code
 * and message), while v1 errors such as a missing API key, an unparsable body or an internal
 * error carry none. stripe-node picks a v2 error's class from `type`, then from the code
 * `invalid_fields`, then from the status, so these codes change no class. They link no docs
 * page: Stripe has none for them.
 */
export function asV2Error(error: StripeHttpError): StripeHttpError {
  if (error.body.code !== undefined) return error;
  return new StripeHttpError(
    error.status,
    { ...error.body, code: v2CodeFor(error.status) },
    error.headers,
    { linkDocs: false },
  );
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
