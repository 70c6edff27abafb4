import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import type { EmulatorContext } from "../context.ts";
import { asParams, optionalString, pathId, rejectUnknown, requiredString } from "../params.ts";
import { findItem, findSubscription, itemObject } from "../state/subscriptions.ts";
import { LIST_PARAMS, paginate } from "./list.ts";

/** Subscription items: retrieve, and list by subscription (Stripe requires `subscription`). */
export function registerSubscriptionItemRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.get("/v1/subscription_items/:id", async (req): Promise<Stripe.SubscriptionItem> => {
    const { item, subscription } = findItem(ctx.store, ctx.clock, pathId(req.params));
    return itemObject(ctx.store, subscription, item);
  });

  app.get(
    "/v1/subscription_items",
    async (req): Promise<Stripe.ApiList<Stripe.SubscriptionItem>> => {
      const params = asParams(req.query);
      rejectUnknown(params, [...LIST_PARAMS, "subscription"]);
      const id = requiredString(params, "subscription");
      const subscription = findSubscription(ctx.store, ctx.clock, id);
      const items = subscription.items.map((item) => itemObject(ctx.store, subscription, item));
      const url = `/v1/subscription_items?subscription=${optionalString(params, "subscription")}`;
      return paginate(items, params, url);
    },
  );
}
