import type Stripe from "stripe";
import { invalidRequest } from "../errors.ts";
import { optionalInteger, optionalString, type Params } from "../params.ts";

/** The list parameters every Stripe list endpoint takes. */
export const LIST_PARAMS = ["limit", "starting_after", "ending_before", "expand"] as const;

/**
 * A page of a Stripe list: newest first, `limit` 1..100 (default 10), cursor by object id
 * with `starting_after` (older) or `ending_before` (newer).
 *
 * The objects go out as given, so callers pass copies (or objects built for this request),
 * never the store's own. No deep clone here: structuredClone drops class prototypes, and a
 * `Stripe.Decimal` (price.unit_amount_decimal, plan.amount_decimal) without its `toJSON` is a
 * bag of BigInts that JSON cannot serialize — the subscription lists answered 500 that way.
 */
export function paginate<T extends { id: string }>(
  oldestFirst: readonly T[],
  params: Params,
  url: string,
): Stripe.ApiList<T> {
  const limit = optionalInteger(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidRequest("Invalid limit: must be between 1 and 100", { param: "limit" });
  }
  const items = [...oldestFirst].reverse();
  const after = optionalString(params, "starting_after");
  const before = optionalString(params, "ending_before");
  let page: T[];
  let hasMore: boolean;
  if (after !== undefined) {
    const at = cursorIndex(items, after, "starting_after");
    page = items.slice(at + 1, at + 1 + limit);
    hasMore = at + 1 + limit < items.length;
  } else if (before !== undefined) {
    const at = cursorIndex(items, before, "ending_before");
    const start = Math.max(0, at - limit);
    page = items.slice(start, at);
    hasMore = start > 0;
  } else {
    page = items.slice(0, limit);
    hasMore = limit < items.length;
  }
  return { object: "list", data: page, has_more: hasMore, url };
}

function cursorIndex<T extends { id: string }>(items: T[], id: string, param: string): number {
  const at = items.findIndex((item) => item.id === id);
  if (at < 0) {
    throw invalidRequest(`No such object: '${id}'`, { param, code: "resource_missing" });
  }
  return at;
}
