import type { FastifyInstance } from "fastify";
import type Stripe from "stripe";
import { isLiveRequest } from "../auth.ts";
import type { EmulatorContext } from "../context.ts";
import { invalidRequest, parameterMissing } from "../errors.ts";
import {
  asParams,
  optionalEnum,
  optionalInteger,
  optionalObject,
  optionalString,
  optionalStringMap,
  type Params,
  pathId,
  rejectUnknown,
  requiredString,
} from "../params.ts";
import {
  createPrice,
  createProduct,
  findPrice,
  type PriceRecord,
  priceObject,
} from "../state/prices.ts";

const PARAMS = [
  "currency",
  "unit_amount",
  "product",
  "product_data",
  "recurring",
  "lookup_key",
  "nickname",
  "metadata",
  "expand",
] as const;

/** The recurring part of a price create request. */
function recurringOf(params: Params): PriceRecord["recurring"] {
  const recurring = optionalObject(params, "recurring");
  if (recurring === undefined) return null;
  rejectUnknown(recurring, ["interval", "interval_count", "usage_type", "meter"], "recurring");
  const interval = optionalEnum(
    recurring,
    "interval",
    ["day", "week", "month", "year"] as const,
    "recurring[interval]",
  );
  if (interval === undefined) throw parameterMissing("recurring[interval]");
  const count = optionalInteger(recurring, "interval_count") ?? 1;
  if (count < 1) {
    throw invalidRequest("Invalid recurring[interval_count]: must be at least 1", {
      param: "recurring[interval_count]",
    });
  }
  return {
    interval,
    interval_count: count,
    usage_type:
      optionalEnum(
        recurring,
        "usage_type",
        ["licensed", "metered"] as const,
        "recurring[usage_type]",
      ) ?? "licensed",
    meter: optionalString(recurring, "meter", { param: "recurring[meter]" }) ?? null,
  };
}

/**
 * Prices: create (with `product` or inline `product_data[name]`) and retrieve. Tiers,
 * currency options and transform_quantity are not modelled.
 */
export function registerPriceRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  app.post("/v1/prices", async (req): Promise<Stripe.Price> => {
    const params = asParams(req.body);
    rejectUnknown(params, PARAMS);
    const live = isLiveRequest(req.headers.authorization);
    const currency = requiredString(params, "currency").toLowerCase();
    let product = optionalString(params, "product");
    const productData = optionalObject(params, "product_data");
    if (product === undefined && productData !== undefined) {
      rejectUnknown(productData, ["name", "metadata"], "product_data");
      const name = requiredString(productData, "name", { param: "product_data[name]" });
      product = createProduct(ctx.store, ctx.clock, live, { name }).id;
    }
    if (product === undefined) throw parameterMissing("product");
    return createPrice(ctx.store, ctx.clock, live, {
      currency,
      unit_amount: optionalInteger(params, "unit_amount") ?? null,
      product,
      lookup_key: optionalString(params, "lookup_key", { maxLength: 200 }) ?? null,
      nickname: optionalString(params, "nickname") ?? null,
      metadata: optionalStringMap(params, "metadata") ?? {},
      recurring: recurringOf(params),
    });
  });

  app.get(
    "/v1/prices/:id",
    async (req): Promise<Stripe.Price> => priceObject(findPrice(ctx.store, pathId(req.params))),
  );
}
