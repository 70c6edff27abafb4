import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import {
  asParams,
  optionalString,
  optionalStringMap,
  pathId,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import { createProduct, retrieveProduct } from "../state/prices.ts";

/** Products: create and retrieve, what prices need. */
export function registerProductRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/products", async (req): Promise<Stripe.Product> => {
    const params = asParams(req.body);
    rejectUnknown(params, ["name", "description", "metadata", "expand"]);
    return createProduct(ctx.store, ctx.clock, isLiveRequest(req.headers.authorization), {
      name: requiredString(params, "name", { maxLength: 250 }),
      description: optionalString(params, "description"),
      metadata: optionalStringMap(params, "metadata"),
    });
  });

  app.get(
    "/v1/products/:id",
    async (req): Promise<Stripe.Product> => retrieveProduct(ctx.store, pathId(req.params)),
  );
}
