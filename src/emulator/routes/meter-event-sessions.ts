import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import type { EmulatorContext } from "../context.ts";
import { requestState } from "../request-state.ts";
import { createSession } from "../state/sessions.ts";

/** POST /v2/billing/meter_event_session (secret key): a 15-minute token for the stream. */
export function registerSessionRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post(
    "/v2/billing/meter_event_session",
    async (req): Promise<Stripe.V2.Billing.MeterEventSession> =>
      createSession(ctx.store, ctx.clock, requestState(req)?.live ?? false),
  );
}
