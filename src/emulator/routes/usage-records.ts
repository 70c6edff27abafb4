import type { FastifyInstance, FastifyRequest } from "fastify";
import type Stripe from "stripe";
import type { EmulatorContext } from "../context.ts";
import { asParams, pathId, rejectUnknown } from "../params.ts";
import { beginExecution } from "../request-state.ts";
import { type UsageRecordSummary, usageRecordSummaries } from "../state/usage-record-summaries.ts";
import {
  checkVersionAllowsUsageRecords,
  createUsageRecord,
  type UsageRecord,
} from "../state/usage-records.ts";
import { LIST_PARAMS, paginate } from "./list.ts";

/** Refuse the request unless its Stripe-Version predates basil (see `checkVersionAllowsUsageRecords`). */
function checkVersion(req: FastifyRequest): void {
  const version = req.headers["stripe-version"];
  checkVersionAllowsUsageRecords(Array.isArray(version) ? version[0] : version);
}

/**
 * Legacy usage records and their summaries, only for requests pinned to an API version before
 * 2025-03-31.basil (stripe-node 23: `stripe.rawRequest(…, {apiVersion: "2024-09-30.acacia"})`
 * sends it as Stripe-Version).
 */
export function registerUsageRecordRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/subscription_items/:id/usage_records", async (req): Promise<UsageRecord> => {
    checkVersion(req);
    return createUsageRecord(ctx.store, ctx.clock, pathId(req.params), asParams(req.body), () =>
      beginExecution(req),
    );
  });

  // What a reporter reads to learn whether a usage record it got a 500 for was applied: the
  // idempotency layer replays the 500, the totals do not lie.
  app.get(
    "/v1/subscription_items/:id/usage_record_summaries",
    async (req): Promise<Stripe.ApiList<UsageRecordSummary>> => {
      checkVersion(req);
      const params = asParams(req.query);
      rejectUnknown(params, LIST_PARAMS);
      const id = pathId(req.params);
      const summaries = usageRecordSummaries(ctx.store, ctx.clock, id);
      return paginate(summaries, params, `/v1/subscription_items/${id}/usage_record_summaries`);
    },
  );
}
