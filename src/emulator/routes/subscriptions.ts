import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import { invalidRequest, parameterMissing } from "../errors.ts";
import {
  asParams,
  isRecord,
  optionalInteger,
  optionalString,
  optionalStringMap,
  type Params,
  pathId,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import { subscriptionObject } from "../state/subscription-object.ts";
import {
  cancelSubscription,
  createSubscription,
  findSubscription,
  type ItemInput,
} from "../state/subscriptions.ts";
import { LIST_PARAMS, paginate } from "./list.ts";

/** `items[0][price]=…` arrives as an array or as an index-keyed object; both become a list. */
function itemsOf(params: Params): ItemInput[] {
  const raw = params.items;
  if (raw === undefined || raw === "") throw parameterMissing("items");
  const list: unknown[] = Array.isArray(raw) ? raw : isRecord(raw) ? Object.values(raw) : [];
  return list.map((entry, i) => {
    if (!isRecord(entry)) throw invalidRequest("Invalid array", { param: `items[${i}]` });
    rejectUnknown(entry, ["price", "quantity", "metadata"], `items[${i}]`);
    return {
      price: requiredString(entry, "price", { param: `items[${i}][price]` }),
      quantity: optionalInteger(entry, "quantity"),
      metadata: optionalStringMap(entry, "metadata"),
    };
  });
}

/** Subscriptions: create, retrieve, list (by customer), cancel. */
export function registerSubscriptionRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/subscriptions", async (req): Promise<Stripe.Subscription> => {
    const params = asParams(req.body);
    rejectUnknown(params, ["customer", "items", "metadata", "expand"]);
    return createSubscription(ctx.store, ctx.clock, isLiveRequest(req.headers.authorization), {
      customer: requiredString(params, "customer"),
      items: itemsOf(params),
      metadata: optionalStringMap(params, "metadata"),
    });
  });

  app.get(
    "/v1/subscriptions/:id",
    async (req): Promise<Stripe.Subscription> =>
      subscriptionObject(ctx.store, findSubscription(ctx.store, ctx.clock, pathId(req.params))),
  );

  app.get("/v1/subscriptions", async (req): Promise<Stripe.ApiList<Stripe.Subscription>> => {
    const params = asParams(req.query);
    rejectUnknown(params, [...LIST_PARAMS, "customer", "status"]);
    const customer = optionalString(params, "customer");
    const subscriptions = [...ctx.store.subscriptions.values()]
      .filter((s) => !customer || s.customer === customer)
      .map((s) => subscriptionObject(ctx.store, findSubscription(ctx.store, ctx.clock, s.id)));
    return paginate(subscriptions, params, "/v1/subscriptions");
  });

  app.delete(
    "/v1/subscriptions/:id",
    async (req): Promise<Stripe.Subscription> =>
      cancelSubscription(ctx.store, ctx.clock, pathId(req.params)),
  );
}
