import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { Db } from "../db/connect.ts";
import { eventNameSchema, fieldRules } from "../ingest/event-input.ts";
import { ErrorCode } from "../lib/error-codes.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { parseQuery } from "../validation/parse-query.ts";
import { queueStats, queueStatsSchema, type StatsScope } from "./stats.ts";

const queryShape = z.strictObject({
  event_name: eventNameSchema.optional(),
  received_since: z.iso.datetime({ offset: true }).optional(),
});
const queryRules = {
  event_name: `${fieldRules.event_name}, given once`,
  received_since: "must be an ISO 8601 date-time with an offset (2026-12-01T09:00:00Z), given once",
};

const doc: RouteDoc = {
  tag: "Operations",
  summary: "The queue at a glance: pending by wait reason, reported, dead letters by code.",
  description:
    "`event_name` and `received_since` narrow it to one meter's events and those received since then (one run of a load, a demo's own events).",
  query: queryShape,
  rules: queryRules,
  responses: { 200: queueStatsSchema },
  errors: { 400: [ErrorCode.invalid_query] },
};

/**
 * GET /v1/stats (admin): queue depth, reported, dead letters by code. `event_name` and
 * `received_since` narrow it to one meter's events and those received since then (one run of a
 * load, a demo's own events).
 */
export const statsRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.get("/stats", { config: { doc } }, async (request) =>
    queueStats(db, parseScope(request.query)),
  );
};

function parseScope(query: unknown): StatsScope {
  const { event_name, received_since } = parseQuery(queryShape, query, queryRules);
  return {
    eventName: event_name,
    receivedSince: received_since === undefined ? undefined : new Date(received_since),
  };
}
