import Stripe from "stripe";
import { coerceError } from "../../lib/errors.ts";
import type { SendResult } from "./port.ts";

/**
 * Describes whatever a stripe-node call threw as a SendResult, for every sink.
 * stripe-node 23 puts the response's status on `statusCode`, the body's error on `type`
 * (class name) / `rawType` (Stripe's error.type), `code`, `param`, `message`, the
 * lower-cased response headers on `headers`, and Request-Id on `requestId`. A failure before
 * any response is a StripeConnectionError with no statusCode (its message names a timeout).
 */
export function describeStripeError(err: unknown): SendResult {
  if (err instanceof Stripe.errors.StripeConnectionError) {
    return { kind: "network", message: err.message, timeout: isTimeout(err) };
  }
  if (err instanceof Stripe.errors.StripeError && typeof err.statusCode === "number") {
    return {
      kind: "http_error",
      status: err.statusCode,
      type: err.rawType ?? null,
      code: err.code ?? null,
      message: err.message || `HTTP ${err.statusCode}`,
      param: err.param ?? null,
      shouldRetry: parseShouldRetry(err.headers?.["stripe-should-retry"]),
      requestId: err.requestId ?? err.headers?.["request-id"] ?? null,
    };
  }
  // A StripeError without a status ("Invalid JSON received from the Stripe API") or anything
  // else: a response we could not read, or a failure we cannot place. Stripe may have applied
  // the request, so it is described as a network failure: classify() retries it as ambiguous.
  const e = coerceError(err);
  return { kind: "network", message: `${e.name}: ${e.message}`, timeout: false };
}

function isTimeout(err: InstanceType<typeof Stripe.errors.StripeConnectionError>): boolean {
  const detail = err.detail;
  const code =
    typeof detail === "object" && detail !== null && "code" in detail ? detail.code : undefined;
  // stripe-node marks its own timeout with code ETIMEDOUT and says so in the message.
  return code === "ETIMEDOUT" || /timeout/i.test(err.message);
}

function parseShouldRetry(header: string | undefined): boolean | null {
  if (header === "true") return true;
  if (header === "false") return false;
  return null;
}
