/**
 * Stripe's error envelope and the emulator's errors. Route code throws `StripeHttpError`; the
 * server's error handler turns it into `{"error": {...}}` with the status and headers it carries.
 * Messages follow Stripe's wording where it is known (noted per factory where it is not).
 */

/** The `type` field of Stripe's errors: v1's four, and the v2 types the emulator answers with. */
export type StripeErrorType =
  | "api_error"
  | "card_error"
  | "idempotency_error"
  | "invalid_request_error"
  | "rate_limit"
  | "temporary_session_expired";

/** The object inside Stripe's `{"error": …}` envelope. */
export interface StripeErrorBody {
  /** Broad category; stripe-node picks its error class from the status, then this. */
  type: StripeErrorType;
  /** Stable machine code, when Stripe has one for the case. */
  code?: string;
  /** Human-readable message. */
  message: string;
  /** The request parameter at fault, bracket-notation (`payload[value]`). */
  param?: string;
  /** Stripe's documentation page for `code`. */
  doc_url?: string;
}

/** An error the emulator answers with: HTTP status, Stripe error body, extra headers. */
export class StripeHttpError extends Error {
  /** The error object sent inside the envelope. */
  readonly body: StripeErrorBody;

  constructor(
    /** HTTP status code. */
    readonly status: number,
    body: Omit<StripeErrorBody, "doc_url">,
    /** Extra response headers, e.g. `Stripe-Should-Retry`. */
    readonly headers: Readonly<Record<string, string>> = {},
    /** `linkDocs: false` for a code of the emulator's own, which has no page at Stripe. */
    options: { linkDocs?: boolean } = {},
  ) {
    super(body.message);
    this.name = "StripeHttpError";
    // Stripe links every coded error to /docs/error-codes/<code with dashes>.
    this.body =
      body.code && options.linkDocs !== false
        ? {
            ...body,
            doc_url: `https://stripe.com/docs/error-codes/${body.code.replaceAll("_", "-")}`,
          }
        : body;
  }

  /** The JSON body: `{"error": {...}}`. */
  envelope(): { error: StripeErrorBody } {
    return { error: this.body };
  }
}

/** 400 invalid_request_error with the given fields. */
export function invalidRequest(
  message: string,
  fields: { param?: string; code?: string } = {},
): StripeHttpError {
  return new StripeHttpError(400, { type: "invalid_request_error", message, ...fields });
}

/** 400 parameter_missing, Stripe's "Missing required param: x." */
export function parameterMissing(param: string): StripeHttpError {
  return invalidRequest(`Missing required param: ${param}.`, { param, code: "parameter_missing" });
}

/** 400 parameter_unknown, Stripe's "Received unknown parameter: x" */
export function parameterUnknown(param: string): StripeHttpError {
  return invalidRequest(`Received unknown parameter: ${param}`, {
    param,
    code: "parameter_unknown",
  });
}

/** 400 parameter_invalid_integer, Stripe's "Invalid integer: x" */
export function invalidInteger(param: string, value: string): StripeHttpError {
  return invalidRequest(`Invalid integer: ${value}`, { param, code: "parameter_invalid_integer" });
}

/**
 * 400 for a string over its maximum length. Stripe's message reads "Invalid string: …; must be
 * at most N characters"; whether it carries a `code` is unverified, so none is sent.
 */
export function stringTooLong(param: string, value: string, max: number): StripeHttpError {
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return invalidRequest(`Invalid string: ${shown}; must be at most ${max} characters`, { param });
}

/** 404 resource_missing, Stripe's "No such customer: 'cus_…'". */
export function resourceMissing(noun: string, id: string, param = "id"): StripeHttpError {
  return new StripeHttpError(404, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${noun}: '${id}'`,
    param,
  });
}

/** 404 for a path the emulator does not serve, worded like Stripe's. */
export function unrecognizedUrl(method: string, url: string): StripeHttpError {
  return new StripeHttpError(404, {
    type: "invalid_request_error",
    message: `Unrecognized request URL (${method}: ${url}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}

/** 401 for a request without a key (Stripe's wording). */
export function missingApiKey(): StripeHttpError {
  return new StripeHttpError(
    401,
    {
      type: "invalid_request_error",
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    },
    { "WWW-Authenticate": 'Basic realm="Stripe"' },
  );
}

/** 401 for an unknown or revoked key; the key is masked as Stripe masks it. */
export function invalidApiKey(maskedKey: string): StripeHttpError {
  return new StripeHttpError(
    401,
    { type: "invalid_request_error", message: `Invalid API Key provided: ${maskedKey}` },
    { "WWW-Authenticate": 'Basic realm="Stripe"' },
  );
}

const RATE_LIMIT_MESSAGE =
  "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.";

/**
 * 429 rate_limit: nothing was applied, the client should back off and retry. v1 answers with
 * type `invalid_request_error` (Stripe's documented body); v2 with type `rate_limit`, the type
 * stripe-node's `generateV2Error` maps to `RateLimitError`. No Stripe-Should-Retry: stripe-node
 * does not retry a plain 429, and Stripe leaves the pacing to the client.
 */
export function rateLimited(api: "v1" | "v2" = "v1"): StripeHttpError {
  return new StripeHttpError(429, {
    type: api === "v1" ? "invalid_request_error" : "rate_limit",
    code: "rate_limit",
    message: RATE_LIMIT_MESSAGE,
  });
}

/**
 * 429 lock_timeout: another request holds the object. stripe-node's retry rule names lock
 * timeouts as the case where the API sends `Stripe-Should-Retry: true`.
 */
export function lockTimeout(): StripeHttpError {
  return new StripeHttpError(
    429,
    {
      type: "invalid_request_error",
      code: "lock_timeout",
      message:
        "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.",
    },
    { "Stripe-Should-Retry": "true" },
  );
}

/** 400 idempotency_error: the key was first used with other parameters (Stripe's wording). */
export function idempotencyMismatch(key: string): StripeHttpError {
  return new StripeHttpError(400, {
    type: "idempotency_error",
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  });
}

/**
 * 409 idempotency_key_in_use: the first request with this key is still running. The message is
 * Stripe's; the `type` is *unverified* (stripe-node picks StripeAPIError from the 409 alone).
 */
export function idempotencyKeyInUse(key: string): StripeHttpError {
  return new StripeHttpError(409, {
    type: "idempotency_error",
    code: "idempotency_key_in_use",
    message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
  });
}

/** 400 for an Idempotency-Key over Stripe's 255 characters (message *unverified*). */
export function idempotencyKeyTooLong(): StripeHttpError {
  return invalidRequest("Idempotency keys must be at most 255 characters long.", {
    param: "Idempotency-Key",
  });
}

/** 500 api_error: something went wrong on "Stripe's" side. */
export function apiError(headers: Readonly<Record<string, string>> = {}): StripeHttpError {
  return new StripeHttpError(
    500,
    {
      type: "api_error",
      message:
        "Sorry, something went wrong. We've already been notified of the problem, but if you need any help, you can reach us at https://support.stripe.com/contact.",
    },
    headers,
  );
}
