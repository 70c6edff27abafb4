import type { FastifyReply, FastifyRequest } from "fastify";
import { apiError, StripeHttpError } from "./errors.ts";
import { asV2Error } from "./errors-v2.ts";

/** Which API's error form an answer takes. */
export type ApiFlavour = "v1" | "v2";

function statusOf(error: unknown): number {
  if (typeof error === "object" && error !== null && "statusCode" in error) {
    const status = error.statusCode;
    if (typeof status === "number") return status;
  }
  return 500;
}

/**
 * Stripe's form of whatever a request raised: the emulator's own errors as they are; fastify's
 * client errors (unparsable body, unsupported media type, body too large) as
 * invalid_request_error with fastify's status and message; anything else is an emulator bug,
 * logged and answered like Stripe's own failures, with a 500 api_error.
 */
function toStripeError(error: unknown, req: FastifyRequest): StripeHttpError {
  if (error instanceof StripeHttpError) return error;
  const status = statusOf(error);
  if (status >= 400 && status < 500) {
    const message = error instanceof Error ? error.message : "Invalid request";
    return new StripeHttpError(status, { type: "invalid_request_error", message });
  }
  req.log.error({ err: error }, "emulator bug");
  return apiError();
}

/** An error handler answering in `api`'s error form, with the status and headers of the error. */
export function errorHandler(
  api: ApiFlavour,
): (error: unknown, req: FastifyRequest, reply: FastifyReply) => FastifyReply {
  return (error, req, reply) => {
    const stripeError = toStripeError(error, req);
    const sent = api === "v2" ? asV2Error(stripeError) : stripeError;
    return reply.code(sent.status).headers(sent.headers).send(sent.envelope());
  };
}
