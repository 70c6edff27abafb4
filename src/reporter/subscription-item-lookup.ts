import { and, inArray } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { subscriptionItems } from "../db/schema/subscription-items.ts";

/** The map key of a customer × meter. */
export function itemKey(customerKey: string, eventName: string): string {
  return `${customerKey}\u0000${eventName}`;
}

/**
 * The subscription items of a batch's customer × meter pairs, in one query, keyed by
 * itemKey(). The IN lists may match a few extra pairs; the map lookup picks the exact ones.
 */
export async function loadSubscriptionItems(
  db: Db,
  pairs: ReadonlyArray<{ customerKey: string; eventName: string }>,
): Promise<Map<string, string>> {
  if (pairs.length === 0) return new Map();
  const keys = [...new Set(pairs.map((p) => p.customerKey))];
  const names = [...new Set(pairs.map((p) => p.eventName))];
  const rows = await db
    .select()
    .from(subscriptionItems)
    .where(
      and(
        inArray(subscriptionItems.customerKey, keys),
        inArray(subscriptionItems.eventName, names),
      ),
    );
  return new Map(rows.map((r) => [itemKey(r.customerKey, r.eventName), r.subscriptionItemId]));
}
