import type { FastifyPluginAsync } from "fastify";
import type { Db } from "../db/connect.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { queueStats, queueStatsSchema } from "./stats.ts";

const doc: RouteDoc = {
  tag: "Operations",
  summary: "The queue at a glance: pending by wait reason, reported, dead letters by code.",
  responses: { 200: queueStatsSchema },
};

/** GET /v1/stats (admin): queue depth, reported, dead letters by code. */
export const statsRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.get("/stats", { config: { doc } }, async () => queueStats(db));
};
