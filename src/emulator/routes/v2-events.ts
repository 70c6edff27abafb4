import type { FastifyInstance } from "fastify";
import type { EmulatorContext } from "../context.ts";
import { StripeHttpError } from "../errors.ts";
import { pathId } from "../params.ts";
import type { ThinEventRecord } from "../state/thin-events.ts";

/**
 * GET /v2/core/events/{id}: the full form of a thin event, what a notification's
 * `fetchEvent()` calls (stripe-node `_buildEventNotification`).
 */
export function registerV2EventRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.get("/v2/core/events/:id", async (req): Promise<ThinEventRecord> => {
    const id = pathId(req.params);
    const event = ctx.store.events.get(id);
    if (!event) {
      throw new StripeHttpError(404, {
        type: "invalid_request_error",
        code: "not_found",
        message: `No such v2.core.event: '${id}'`,
      });
    }
    return structuredClone(event);
  });
}
