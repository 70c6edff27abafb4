import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import { asParams } from "../params.ts";
import { beginExecution } from "../request-state.ts";
import { createAdjustment } from "../state/adjustments.ts";

/** Meter event adjustments: cancel one event by identifier, within 24 h of receipt. */
export function registerAdjustmentRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post(
    "/v1/billing/meter_event_adjustments",
    async (req): Promise<Stripe.Billing.MeterEventAdjustment> => {
      const live = isLiveRequest(req.headers.authorization);
      return createAdjustment(ctx.store, ctx.clock, live, asParams(req.body), () =>
        beginExecution(req),
      );
    },
  );
}
