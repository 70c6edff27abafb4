import { createHash, randomFillSync, randomUUID } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Random bytes are drawn 4 KiB at a time and handed out from this pool: one getrandom call per
// ~290 request ids instead of one (and a Buffer) per request, with ids as random as before.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** The next random byte of the pool, refilled when spent. */
function randomByte(): number {
  if (poolOffset === POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  // Never undefined: the offset is inside the pool (`?? 0` satisfies the index check).
  return pool[poolOffset++] ?? 0;
}

/** A random string of letters and digits, the alphabet of Stripe's object ids. */
export function randomToken(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET.charAt(randomByte() % ALPHABET.length);
  return out;
}

/** `req_…`, the shape of Stripe's Request-Id header. */
export const newRequestId = (): string => `req_${randomToken(14)}`;

/** `cus_…`, as Stripe names customers. */
export const newCustomerId = (): string => `cus_${randomToken(14)}`;

/** `mtr_test_…`, as Stripe names test-mode meters (see fixtures: billing.meter_event_summary.meter). */
export const newMeterId = (): string => `mtr_test_${randomToken(28)}`;

/** Identifier for a meter event sent without one. Stripe's own format is undocumented; a UUID is unique enough. */
export const newEventIdentifier = (): string => randomUUID();

/** Stripe's 7-8 character uppercase invoice prefix on customers. */
export function newInvoicePrefix(): string {
  let out = "";
  for (let i = 0; i < 4; i++) out += randomByte().toString(16).padStart(2, "0");
  return out.toUpperCase();
}

/** `prod_…`, as Stripe names products. */
export const newProductId = (): string => `prod_${randomToken(14)}`;

/** `price_…`, as Stripe names prices. */
export const newPriceId = (): string => `price_${randomToken(24)}`;

/** `sub_…`, as Stripe names subscriptions. */
export const newSubscriptionId = (): string => `sub_${randomToken(24)}`;

/** `si_…`, as Stripe names subscription items. */
export const newSubscriptionItemId = (): string => `si_${randomToken(14)}`;

/** `mbur_…` for a usage record (Stripe's prefix, from its legacy API reference examples). */
export const newUsageRecordId = (): string => `mbur_${randomToken(24)}`;

/**
 * `sis_…` for the usage record summary of one subscription item's billing period (Stripe's
 * prefix, from its legacy API reference). Derived from the item and the period's start rather
 * than drawn at random: summaries are computed on every read, and list cursors
 * (`starting_after`) must name the same period each time, across restarts too.
 */
export function usageRecordSummaryId(subscriptionItem: string, periodStart: number): string {
  const digest = createHash("sha256").update(`${subscriptionItem}:${periodStart}`).digest();
  let out = "";
  for (const byte of digest.subarray(0, 24)) out += ALPHABET.charAt(byte % ALPHABET.length);
  return `sis_${out}`;
}
