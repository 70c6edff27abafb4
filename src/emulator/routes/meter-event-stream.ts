import type { FastifyInstance } from "fastify";
import type { EmulatorContext } from "../context.ts";
import { beginExecution, requestState } from "../request-state.ts";
import { applyStreamEvents, parseStreamBody } from "../state/meter-event-stream.ts";

/**
 * POST /v2/billing/meter_event_stream (session token): the request is checked at once (token,
 * JSON shape, ≤ 100 events) and answered `{}` with 200 (Stripe's OpenAPI: "200 Successful
 * response", an empty object); the events are validated and applied behind the answer.
 */
export function registerStreamRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v2/billing/meter_event_stream", async (req): Promise<Record<string, never>> => {
    const events = parseStreamBody(req.body);
    beginExecution(req);
    applyStreamEvents(ctx.store, ctx.clock, requestState(req)?.live ?? false, events);
    return {};
  });
}
