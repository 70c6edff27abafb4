import Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { resourceMissing } from "../errors.ts";
import { newPriceId, newProductId } from "../ids.ts";
import type { Store } from "./store.ts";

/** Billing intervals of a recurring price. */
export type Interval = "day" | "week" | "month" | "year";

/**
 * A price as the emulator keeps it: plain data (persistable), turned into Stripe's object on
 * the way out. Only what subscriptions and usage records need: a currency, an amount, a
 * product, and for recurring prices the interval and usage type (`metered` for usage records).
 */
export interface PriceRecord {
  id: string;
  created: number;
  livemode: boolean;
  currency: string;
  unit_amount: number | null;
  product: string;
  lookup_key: string | null;
  nickname: string | null;
  metadata: Record<string, string>;
  recurring: {
    interval: Interval;
    interval_count: number;
    usage_type: "licensed" | "metered";
    meter: string | null;
  } | null;
}

/** Create a product shaped like fixtures3.json's `product`. */
export function createProduct(
  store: Store,
  clock: Clock,
  livemode: boolean,
  fields: { name: string; description?: string; metadata?: Record<string, string> },
): Stripe.Product {
  const now = unixSeconds(clock);
  const product: Stripe.Product = {
    id: newProductId(),
    object: "product",
    active: true,
    created: now,
    default_price: null,
    description: fields.description ?? null,
    images: [],
    livemode,
    marketing_features: [],
    metadata: { ...fields.metadata },
    name: fields.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: null,
    tax_code: null,
    tax_details: null,
    type: "service",
    unit_label: null,
    updated: now,
    url: null,
  };
  store.products.set(product.id, product);
  store.changed({ k: "product", id: product.id, v: product });
  return structuredClone(product);
}

/** Retrieve a product, or Stripe's 404. */
export function retrieveProduct(store: Store, id: string): Stripe.Product {
  const product = store.products.get(id);
  if (!product) throw resourceMissing("product", id);
  return structuredClone(product);
}

/** Store a new price record (its product must exist) and return it as Stripe's object. */
export function createPrice(
  store: Store,
  clock: Clock,
  livemode: boolean,
  input: Omit<PriceRecord, "id" | "created" | "livemode">,
): Stripe.Price {
  if (!store.products.has(input.product))
    throw resourceMissing("product", input.product, "product");
  const record: PriceRecord = { ...input, id: newPriceId(), created: unixSeconds(clock), livemode };
  store.prices.set(record.id, record);
  store.changed({ k: "price", id: record.id, v: record });
  return priceObject(record);
}

/** The price record with this id, or Stripe's 404 naming `param`. */
export function findPrice(store: Store, id: string, param = "id"): PriceRecord {
  const record = store.prices.get(id);
  if (!record) throw resourceMissing("price", id, param);
  return record;
}

/** A price record as Stripe's `price` object (fixtures3.json's shape). */
export function priceObject(p: PriceRecord): Stripe.Price {
  return {
    id: p.id,
    object: "price",
    active: true,
    billing_scheme: "per_unit",
    created: p.created,
    currency: p.currency,
    custom_unit_amount: null,
    livemode: p.livemode,
    lookup_key: p.lookup_key,
    metadata: { ...p.metadata },
    nickname: p.nickname,
    product: p.product,
    recurring: p.recurring && { ...p.recurring, trial_period_days: null },
    tax_behavior: "unspecified",
    tiers_mode: null,
    transform_quantity: null,
    type: p.recurring ? "recurring" : "one_time",
    unit_amount: p.unit_amount,
    // A Decimal serializes as Stripe's decimal string ("2000").
    unit_amount_decimal: p.unit_amount === null ? null : Stripe.Decimal.from(p.unit_amount),
  };
}

/** The legacy `plan` a subscription item still carries, derived from its recurring price. */
export function planObject(p: PriceRecord): Stripe.Plan {
  const recurring = p.recurring ?? {
    interval: "month",
    interval_count: 1,
    usage_type: "licensed",
    meter: null,
  };
  return {
    id: p.id,
    object: "plan",
    active: true,
    amount: p.unit_amount,
    amount_decimal: p.unit_amount === null ? null : Stripe.Decimal.from(p.unit_amount),
    billing_scheme: "per_unit",
    created: p.created,
    currency: p.currency,
    interval: recurring.interval,
    interval_count: recurring.interval_count,
    livemode: p.livemode,
    metadata: { ...p.metadata },
    meter: recurring.meter,
    nickname: p.nickname,
    product: p.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: recurring.usage_type,
  };
}
