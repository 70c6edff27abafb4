import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import type { EmulatorContext } from "../context.ts";
import { invalidRequest, parameterMissing, resourceMissing } from "../errors.ts";
import {
  asParams,
  optionalEnum,
  optionalInteger,
  pathId,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import { checkMinuteAligned, eventSummaries } from "../state/summaries.ts";
import { LIST_PARAMS, paginate } from "./list.ts";

/** GET /v1/billing/meters/{id}/event_summaries: aggregated usage per customer and window. */
export function registerSummaryRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.get(
    "/v1/billing/meters/:id/event_summaries",
    async (req): Promise<Stripe.ApiList<Stripe.Billing.MeterEventSummary>> => {
      const id = pathId(req.params);
      const params = asParams(req.query);
      rejectUnknown(params, [
        ...LIST_PARAMS,
        "customer",
        "start_time",
        "end_time",
        "value_grouping_window",
      ]);
      const meter = ctx.store.meters.get(id);
      if (!meter) throw resourceMissing("billing.meter", id);
      const customer = requiredString(params, "customer");
      const start = optionalInteger(params, "start_time");
      if (start === undefined) throw parameterMissing("start_time");
      const end = optionalInteger(params, "end_time");
      if (end === undefined) throw parameterMissing("end_time");
      checkMinuteAligned("start_time", start);
      checkMinuteAligned("end_time", end);
      if (end <= start) {
        throw invalidRequest("end_time must be after start_time.", { param: "end_time" });
      }
      const window =
        optionalEnum(params, "value_grouping_window", ["hour", "day"] as const) ?? null;
      const summaries = eventSummaries(ctx.store, { meter, customer, start, end, window });
      return paginate(summaries, params, `/v1/billing/meters/${id}/event_summaries`);
    },
  );
}
