import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import { ApiError } from "../lib/errors.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { eventTraceSchema, getEventTrace } from "./event-trace.ts";

const doc: RouteDoc = {
  tag: "Events",
  summary: "An event's status, last error and every send attempt.",
  description:
    'Answers "was this billed, and if not, why?" with an ingest key: `status` says where the ' +
    "event stands, `wait_reason` why a pending one waits, `last_error` why a failed one failed.",
  // Not checked against the id rule: an id no event can have is simply not found.
  params: z.object({ id: z.string().describe("The event's id, as the producer sent it") }),
  responses: { 200: eventTraceSchema },
  errors: { 404: [ErrorCode.event_not_found] },
};

/**
 * GET /v1/events/:id (ingest role): the event's status, last error and every attempt, so a
 * producer can answer "was this billed, and if not, why?" without an admin key.
 */
export const eventTraceRoutes: FastifyPluginAsync<{
  db: Db;
  /** The workers' "gone" rule (outbox/workers.ts workerGoneAfterMs); default: the default lease. */
  liveWithinMs?: number | undefined;
}> = async (app, { db, liveWithinMs }) => {
  app.get<{ Params: { id: string } }>(
    "/events/:id",
    { config: { role: "ingest", doc } },
    async (request) => {
      const trace = await getEventTrace(db, request.params.id, new Date(), liveWithinMs);
      if (trace === null) {
        throw new ApiError(
          404,
          ErrorCode.event_not_found,
          `no event with id "${request.params.id}"`,
        );
      }
      return trace;
    },
  );
};
