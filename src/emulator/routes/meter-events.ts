import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import { asParams } from "../params.ts";
import { beginExecution } from "../request-state.ts";
import { createMeterEvent } from "../state/meter-events.ts";

/**
 * v1 meter events: the usage endpoint. Faults, rate limits and the idempotency layer wrap it
 * in the request pipeline (`pipeline.ts`); a 400 is answered truthfully even when an
 * ambiguous fault was drawn, since nothing was applied.
 */
export function registerMeterEventRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/billing/meter_events", async (req): Promise<Stripe.Billing.MeterEvent> => {
    const live = isLiveRequest(req.headers.authorization);
    return createMeterEvent(ctx.store, ctx.clock, live, asParams(req.body), () =>
      beginExecution(req),
    );
  });
}
