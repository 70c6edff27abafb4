import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type Stripe from "stripe";
import { type Ledger, LedgerBook } from "../ledger.ts";
import type { PriceRecord } from "./prices.ts";
import type { CustomerEntry, Store } from "./store.ts";
import type { SubscriptionRecord } from "./subscriptions.ts";

/**
 * What the state file holds: the durable part of "Stripe" (customers, meters, the dedup
 * identifiers, the ledger, products, prices, subscriptions). Sessions, idempotency keys and
 * undelivered error reports are short-lived and start empty, as after a Stripe-side restart.
 */
interface SavedState {
  version: 1;
  customers: Array<[string, CustomerEntry]>;
  meters: Array<[string, Stripe.Billing.Meter]>;
  identifiers: Array<[string, number]>;
  ledger: Pick<Ledger, "events" | "usage_records">;
  products: Array<[string, Stripe.Product]>;
  prices: Array<[string, PriceRecord]>;
  subscriptions: Array<[string, SubscriptionRecord]>;
}

/** The store as the state file's JSON. */
export function serializeStore(store: Store): string {
  const { events, usage_records } = store.ledger.snapshot();
  const saved: SavedState = {
    version: 1,
    customers: [...store.customers],
    meters: [...store.meters],
    identifiers: [...store.identifiers],
    ledger: { events, usage_records },
    products: [...store.products],
    prices: [...store.prices],
    subscriptions: [...store.subscriptions],
  };
  return JSON.stringify(saved);
}

/** Write the store to `path` atomically (a temporary file renamed over the old one). */
export async function saveStore(store: Store, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, serializeStore(store));
  await rename(temporary, path);
}

/**
 * Fill an empty store from `path`. A missing file is a first start (false); a file of another
 * format is an error, so a bad file is never silently replaced by an empty state.
 */
export async function loadStore(store: Store, path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return false;
    throw error;
  }
  const parsed: unknown = JSON.parse(text);
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !("version" in parsed) ||
    parsed.version !== 1
  ) {
    throw new Error(`${path} is not an emulator state file (version 1)`);
  }
  // Our own file, written by serializeStore: trusted past the version check.
  const saved = parsed as SavedState;
  for (const [id, entry] of saved.customers) store.customers.set(id, entry);
  for (const [id, meter] of saved.meters) store.meters.set(id, meter);
  for (const [id, at] of saved.identifiers) store.identifiers.set(id, at);
  store.ledger = LedgerBook.restore(saved.ledger);
  for (const [id, product] of saved.products) store.products.set(id, product);
  for (const [id, price] of saved.prices) store.prices.set(id, price);
  for (const [id, sub] of saved.subscriptions) {
    store.subscriptions.set(id, sub);
    for (const item of sub.items) store.itemIndex.set(item.id, id);
  }
  return true;
}
