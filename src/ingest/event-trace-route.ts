import type { FastifyPluginAsync } from "fastify";
import type { Db } from "../db/connect.ts";
import { ApiError } from "../lib/errors.ts";
import { getEventTrace } from "./event-trace.ts";

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
    { config: { role: "ingest" } },
    async (request) => {
      const trace = await getEventTrace(db, request.params.id, new Date(), liveWithinMs);
      if (trace === null) {
        throw new ApiError(404, "event_not_found", `no event with id "${request.params.id}"`);
      }
      return trace;
    },
  );
};
