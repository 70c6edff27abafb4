/**
 * Stripe's error envelope and the emulator's errors. Route code throws `StripeHttpError`; the
 * server's error handler turns it into `{"error": {...}}` with the status and headers it carries.
 * Messages follow Stripe's wording where it is known (noted per factory where it is not).
 */

/** The `type` field of Stripe's v1 errors. */
export type StripeErrorType =
  | "api_error"
  | "card_error"
  | "idempotency_error"
  | "invalid_request_error";

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
  ) {
    super(body.message);
    this.name = "StripeHttpError";
    // Stripe links every coded error to /docs/error-codes/<code with dashes>.
    this.body = body.code
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

/** 429 rate_limit: nothing was applied, the client should back off and retry. */
export function rateLimited(): StripeHttpError {
  return new StripeHttpError(429, {
    type: "invalid_request_error",
    code: "rate_limit",
    message:
      "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
  });
}

/** 500 api_error: something went wrong on "Stripe's" side. */
export function apiError(): StripeHttpError {
  return new StripeHttpError(500, {
    type: "api_error",
    message:
      "Sorry, something went wrong. We've already been notified of the problem, but if you need any help, you can reach us at https://support.stripe.com/contact.",
  });
}
