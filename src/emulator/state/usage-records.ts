import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { invalidRequest, parameterMissing } from "../errors.ts";
import { newUsageRecordId } from "../ids.ts";
import type { LedgerUsageRecord } from "../ledger.ts";
import { optionalEnum, optionalInteger, type Params, rejectUnknown } from "../params.ts";
import { findPrice } from "./prices.ts";
import type { Store } from "./store.ts";
import { findItem } from "./subscriptions.ts";

/**
 * A legacy usage record, as Stripe returned it before 2025-03-31.basil (stripe-node 23 has no
 * type for it: the shape follows Stripe's former API reference).
 */
export interface UsageRecord {
  /** mbur_… */
  id: string;
  /** Always "usage_record". */
  object: "usage_record";
  /** Live or test mode. */
  livemode: boolean;
  /** The usage quantity for the timestamp. */
  quantity: number;
  /** The subscription item it was reported on. */
  subscription_item: string;
  /** When the usage happened (Unix seconds). */
  timestamp: number;
}

/** The first API version without usage records. */
export const USAGE_RECORDS_REMOVED_IN = "2025-03-31";

/**
 * Refuse usage records (and their summaries) for a request pinned to 2025-03-31.basil or
 * later. The status and wording of Stripe's refusal are *unverified*: the emulator answers 400
 * invalid_request_error naming the version, without a code — Stripe's enum of error codes
 * (api_errors.code) has none for it. A request without Stripe-Version uses the account's
 * version, which the emulator takes to be pre-basil (*unverified* choice).
 */
export function checkVersionAllowsUsageRecords(version: string | undefined): void {
  if (version === undefined || version.slice(0, 10) < USAGE_RECORDS_REMOVED_IN) return;
  throw invalidRequest(
    `Usage records are not available in API version ${version}: legacy usage-based billing was removed in 2025-03-31.basil. Use billing meters, or pin this request to an earlier API version.`,
  );
}

/**
 * Create a usage record: everything synchronous (stripe-facts.md). 404 for an unknown item;
 * 400 for a non-metered price, a canceled subscription, a timestamp in the future or outside
 * the item's current period. `set` replaces the quantity at the timestamp, `increment` adds.
 * No identifier: the Idempotency-Key is the only dedup.
 */
export function createUsageRecord(
  store: Store,
  clock: Clock,
  itemId: string,
  params: Params,
  began: () => void,
): UsageRecord {
  rejectUnknown(params, ["quantity", "timestamp", "action", "expand"]);
  const quantity = optionalInteger(params, "quantity");
  if (quantity === undefined) throw parameterMissing("quantity");
  if (quantity < 0) {
    throw invalidRequest("Invalid quantity: must be greater than or equal to 0", {
      param: "quantity",
    });
  }
  const now = unixSeconds(clock);
  const timestamp =
    params.timestamp === "now" ? now : (optionalInteger(params, "timestamp") ?? now);
  const action = optionalEnum(params, "action", ["increment", "set"] as const) ?? "increment";
  began();

  const { item, subscription } = findItem(store, clock, itemId, "subscription_item");
  const price = findPrice(store, item.price);
  if (price.recurring?.usage_type !== "metered") {
    throw invalidRequest(
      `Usage records can only be created for subscription items with a metered price; ${item.id} has a licensed price.`,
      { param: "subscription_item" },
    );
  }
  if (subscription.status !== "active") {
    throw invalidRequest(`The subscription ${subscription.id} is canceled.`, {
      param: "subscription_item",
    });
  }
  if (timestamp > now) {
    throw invalidRequest(
      "Cannot create the usage record with this timestamp because timestamps must not be in the future.",
      { param: "timestamp" },
    );
  }
  if (timestamp < item.current_period_start || timestamp >= item.current_period_end) {
    throw invalidRequest(
      `Cannot create the usage record with this timestamp because timestamps must be within the subscription's current billing period (${item.current_period_start} to ${item.current_period_end}).`,
      { param: "timestamp" },
    );
  }

  const record: UsageRecord = {
    id: newUsageRecordId(),
    object: "usage_record",
    livemode: subscription.livemode,
    quantity,
    subscription_item: item.id,
    timestamp,
  };
  const entry: LedgerUsageRecord = {
    id: record.id,
    subscription_item: item.id,
    customer: subscription.customer,
    event_name: price.lookup_key ?? price.id,
    quantity,
    action,
    timestamp,
    created: now,
  };
  store.ledger.recordUsage(entry);
  store.changed({ k: "usage", v: entry });
  return record;
}
