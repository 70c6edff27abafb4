import type { Clock } from "../clock.ts";
import { usageRecordSummaryId } from "../ids.ts";
import type { LedgerUsageRecord } from "../ledger.ts";
import { findPrice } from "./prices.ts";
import type { Store } from "./store.ts";
import { addInterval, findItem, type ItemRecord } from "./subscriptions.ts";

/**
 * A legacy usage record summary, as Stripe returned it before 2025-03-31.basil (stripe-node 23
 * has no type for it: the shape follows Stripe's former API reference, docs.stripe.com/api/
 * usage-record-summary, and the SDKs generated from spec3 before basil).
 */
export interface UsageRecordSummary {
  /** sis_… */
  id: string;
  /** Always "usage_record_summary". */
  object: "usage_record_summary";
  /** The invoice that billed the period; the emulator makes no invoices, so always null. */
  invoice: string | null;
  /** Live or test mode, the subscription's. */
  livemode: boolean;
  /** The billing period summarized (Unix seconds). */
  period: { start: number; end: number };
  /** The subscription item it summarizes. */
  subscription_item: string;
  /** The usage applied in the period: increments add, `set` replaces the quantity at its timestamp. */
  total_usage: number;
}

/**
 * Every billing period of the item from its creation to the current one, oldest first. The
 * walk repeats `rollPeriods`' own arithmetic (each end is the previous start plus one interval),
 * so month ends land on the same days as the item's current period.
 */
function periodsOf(store: Store, item: ItemRecord): Array<{ start: number; end: number }> {
  const current = { start: item.current_period_start, end: item.current_period_end };
  const recurring = findPrice(store, item.price).recurring;
  if (!recurring) return [current];
  const periods: Array<{ start: number; end: number }> = [];
  let start = item.created;
  while (start < current.start) {
    const end = addInterval(start, recurring.interval, recurring.interval_count);
    // Cannot happen (interval_count ≥ 1); guards the loop against a corrupt state file.
    if (end <= start) break;
    periods.push({ start, end });
    start = end;
  }
  periods.push(current);
  return periods;
}

/** The quantity at each timestamp after replaying the records in order (`set` replaces). */
function usageByTimestamp(records: readonly LedgerUsageRecord[]): Map<number, number> {
  const at = new Map<number, number>();
  for (const record of records) {
    const before = at.get(record.timestamp) ?? 0;
    at.set(record.timestamp, record.action === "set" ? record.quantity : before + record.quantity);
  }
  return at;
}

/**
 * The usage record summaries of one subscription item, oldest period first (lists reverse
 * them). Totals come from the ledger, which holds every record the emulator applied — also
 * those whose answer a fault then replaced with a 500 or a dropped connection, since Stripe
 * counts what it applied, not what it answered. Throws Stripe's 404 for an unknown item.
 */
export function usageRecordSummaries(
  store: Store,
  clock: Clock,
  itemId: string,
): UsageRecordSummary[] {
  const { item, subscription } = findItem(store, clock, itemId, "subscription_item");
  const usage = usageByTimestamp(store.ledger.usageRecordsOf(item.id));
  return periodsOf(store, item).map((period) => {
    let total = 0;
    // A period holds usage from its start up to, not including, its end: the next period
    // starts there (the emulator's periods are half-open, as the usage record checks are).
    for (const [timestamp, quantity] of usage) {
      if (timestamp >= period.start && timestamp < period.end) total += quantity;
    }
    return {
      id: usageRecordSummaryId(item.id, period.start),
      object: "usage_record_summary",
      invoice: null,
      livemode: subscription.livemode,
      period,
      subscription_item: item.id,
      total_usage: total,
    };
  });
}
