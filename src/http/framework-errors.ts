import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { handleError } from "./error-handler.ts";

/**
 * Fastify's frameworkErrors option: errors the router raises before any route or hook runs (a
 * path that does not percent-decode, a path segment past maxParamLength). Without it fastify
 * answers them in its own shape; with it they go through our one error handler, request id
 * included (the onRequest hook that sets the header has not run).
 */
export function handleFrameworkError(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  reply.header("x-request-id", request.id);
  return handleError(err, request, reply);
}
