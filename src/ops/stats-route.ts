import type { FastifyPluginAsync } from "fastify";
import type { Db } from "../db/connect.ts";
import { queueStats } from "./stats.ts";

/** GET /v1/stats (admin): queue depth, reported, dead letters by code. */
export const statsRoutes: FastifyPluginAsync<{ db: Db }> = async (app, { db }) => {
  app.get("/stats", async () => queueStats(db));
};
