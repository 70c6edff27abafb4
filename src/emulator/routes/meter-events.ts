import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import { apiError, rateLimited } from "../errors.ts";
import { decideFault } from "../faults.ts";
import { asParams } from "../params.ts";
import { createMeterEvent } from "../state/meter-events.ts";

/**
 * v1 meter events: the usage endpoint, and the only one faults apply to (customer and meter
 * management stay reliable so tests can set up state). Order of a request: latency, then a
 * failure that applies nothing (429, 500), then the real work, then an ambiguous failure that
 * hides its result (500, or a socket destroyed without an answer).
 */
export function registerMeterEventRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post(
    "/v1/billing/meter_events",
    async (req, reply): Promise<Stripe.Billing.MeterEvent | undefined> => {
      const decision = decideFault(ctx.faults(), ctx.random);
      if (decision.delayMs > 0) await sleep(decision.delayMs);
      if (decision.outcome === "rate_limit") throw rateLimited();
      if (decision.outcome === "error_500") throw apiError();

      const live = isLiveRequest(req.headers.authorization);
      // A 400 (bad shape, duplicate) is answered truthfully even when an ambiguous fault was
      // drawn: nothing was applied, so there is nothing to hide.
      const event = createMeterEvent(ctx.store, ctx.clock, live, asParams(req.body));

      if (decision.outcome === "ambiguous_500") throw apiError();
      if (decision.outcome === "ambiguous_drop") {
        reply.hijack();
        req.raw.socket.destroy();
        return undefined;
      }
      return event;
    },
  );
}
