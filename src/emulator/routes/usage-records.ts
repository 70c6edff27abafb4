import type { FastifyInstance } from "fastify";
import type { EmulatorContext } from "../context.ts";
import { asParams, pathId } from "../params.ts";
import { beginExecution } from "../request-state.ts";
import {
  checkVersionAllowsUsageRecords,
  createUsageRecord,
  type UsageRecord,
} from "../state/usage-records.ts";

/**
 * POST /v1/subscription_items/{id}/usage_records: legacy usage records, only for requests
 * pinned to an API version before 2025-03-31.basil (stripe-node 23: `stripe.rawRequest(…,
 * {apiVersion: "2024-09-30.acacia"})` sends it as Stripe-Version).
 */
export function registerUsageRecordRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/subscription_items/:id/usage_records", async (req): Promise<UsageRecord> => {
    const version = req.headers["stripe-version"];
    checkVersionAllowsUsageRecords(Array.isArray(version) ? version[0] : version);
    return createUsageRecord(ctx.store, ctx.clock, pathId(req.params), asParams(req.body), () =>
      beginExecution(req),
    );
  });
}
