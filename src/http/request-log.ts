import type { FastifyReply, FastifyRequest } from "fastify";
import { LogController } from "fastify";

/** Error codes of refused requests (4xx), for their request line: a refusal adds no line. */
const refusals = new WeakMap<FastifyRequest, string>();

/** Notes the code a request was refused with; its request line shows it. */
export function noteRefusal(request: FastifyRequest, code: string): void {
  refusals.set(request, code);
}

/**
 * One log line per request, at debug, once it is answered: method, url, status and time, with
 * the request id its logger already carries (never repeated). Replaces fastify's two lines at
 * info ("incoming request", "request completed"), which at a thousand events a second drown
 * everything else; a failed request still logs its error at error level.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      ...(refusals.has(request) ? { code: refusals.get(request) } : {}),
    };
    if (error) reply.log.error({ ...line, err: error }, "request failed");
    else reply.log.debug(line, "request");
  }

  // The request's own line (status 404) says it: no second line at info.
  override routeNotFound(): void {}
}
