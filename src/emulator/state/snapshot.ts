import { open, readFile, rename, rm } from "node:fs/promises";
import type Stripe from "stripe";
import { type Ledger, LedgerBook } from "../ledger.ts";
import type { PriceRecord } from "./prices.ts";
import type { CustomerEntry, Store } from "./store.ts";
import type { SubscriptionRecord } from "./subscriptions.ts";

/**
 * The snapshot, the state file itself: the durable part of "Stripe" (customers, meters, the
 * dedup identifiers, the ledger, products, prices, subscriptions) as one JSON document, the
 * format the emulator has always written (version 1). Sessions, idempotency keys and
 * undelivered error reports are short-lived and start empty, as after a Stripe-side restart.
 * `next_journal` (absent from files written before the journal) says which journal files
 * (journal.ts) come after it.
 */
interface SavedState {
  version: 1;
  next_journal?: number;
  customers: Array<[string, CustomerEntry]>;
  meters: Array<[string, Stripe.Billing.Meter]>;
  identifiers: Array<[string, number]>;
  ledger: Pick<Ledger, "events" | "usage_records">;
  products: Array<[string, Stripe.Product]>;
  prices: Array<[string, PriceRecord]>;
  subscriptions: Array<[string, SubscriptionRecord]>;
}

/** Entries serialized per slice: a few milliseconds of JSON.stringify between two yields. */
const SLICE = 1_000;

/**
 * The store at one instant, to be written by `writeSnapshot` while the emulator keeps serving.
 * The small collections are serialized at once; the big ones are bounded (the ledger's lengths)
 * or walked live (identifiers). Whatever a slice reads that changed after this instant is also
 * in the next journal, and replaying it again changes nothing (state/changes.ts), so the
 * snapshot plus the journals from `nextJournal` on is the whole state.
 */
export interface SnapshotView {
  /** The first journal generation not included. */
  nextJournal: number;
  /** JSON of each small collection, by field. */
  small: Record<"customers" | "meters" | "products" | "prices" | "subscriptions", string>;
  /** Live iterator over the identifiers. */
  identifiers: Iterator<[string, number]>;
  /** Ledger lengths at the instant. */
  events: number;
  usageRecords: number;
}

/** Capture what a snapshot holds; synchronous, so nothing changes between it and the caller's journal switch. */
export function captureSnapshot(store: Store, nextJournal: number): SnapshotView {
  const sizes = store.ledger.sizes();
  return {
    nextJournal,
    small: {
      customers: JSON.stringify([...store.customers]),
      meters: JSON.stringify([...store.meters]),
      products: JSON.stringify([...store.products]),
      prices: JSON.stringify([...store.prices]),
      subscriptions: JSON.stringify([...store.subscriptions]),
    },
    identifiers: store.identifiers.entries(),
    events: sizes.events,
    usageRecords: sizes.usageRecords,
  };
}

/** Thrown by `writeSnapshot` when told to stop (the emulator is closing). */
export class SnapshotAborted extends Error {
  constructor() {
    super("snapshot abandoned: the emulator is closing");
  }
}

/** JSON array items without the brackets, "" for none. */
function items(list: readonly unknown[]): string {
  return list.length === 0 ? "" : JSON.stringify(list).slice(1, -1);
}

/**
 * Write a captured view to `path` atomically (a temporary file, synced, renamed over the old
 * one), one slice of entries at a time: the event loop runs between slices, so a ledger of
 * 500,000 events never blocks it for more than one slice. Resolves with the bytes written.
 * `stop()` is asked between slices; when true the temporary file is removed and
 * SnapshotAborted thrown (the files on disk still hold the whole state).
 */
export async function writeSnapshot(
  store: Store,
  view: SnapshotView,
  path: string,
  stop: () => boolean = () => false,
): Promise<number> {
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, "w");
  let bytes = 0;
  const write = async (text: string) => {
    if (stop()) throw new SnapshotAborted();
    // Encoded once: its length is the count, and the write takes it as it is.
    const encoded = Buffer.from(text);
    bytes += encoded.length;
    await file.write(encoded);
  };
  // Writes the pieces of one JSON array, comma-separated, as they come.
  const array = async (pieces: () => string | null) => {
    await write("[");
    let first = true;
    for (let piece = pieces(); piece !== null; piece = pieces()) {
      if (piece === "") continue;
      await write(first ? piece : `,${piece}`);
      first = false;
    }
    await write("]");
  };
  const sliced = (total: number, slice: (from: number, to: number) => readonly unknown[]) => {
    let from = 0;
    return () => {
      if (from >= total) return null;
      const to = Math.min(from + SLICE, total);
      const piece = items(slice(from, to));
      from = to;
      return piece;
    };
  };
  try {
    const { small } = view;
    await write(`{"version":1,"next_journal":${view.nextJournal},"customers":${small.customers}`);
    await write(`,"meters":${small.meters},"identifiers":`);
    await array(() => {
      const batch: Array<[string, number]> = [];
      for (let next = view.identifiers.next(); !next.done; next = view.identifiers.next()) {
        batch.push(next.value);
        if (batch.length === SLICE) break;
      }
      return batch.length === 0 ? null : items(batch);
    });
    await write(`,"ledger":{"events":`);
    await array(sliced(view.events, (a, b) => store.ledger.eventSlice(a, b)));
    await write(`,"usage_records":`);
    await array(sliced(view.usageRecords, (a, b) => store.ledger.usageSlice(a, b)));
    await write(`},"products":${small.products},"prices":${small.prices}`);
    await write(`,"subscriptions":${small.subscriptions}}`);
    // Synced before the rename: the journals it replaces are deleted right after.
    await file.sync();
    await file.close();
    await rename(temporary, path);
    return bytes;
  } catch (error) {
    await file.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
  }
}

/** What `loadSnapshot` found: whether there was a file, its size, and the next journal. */
export interface LoadedSnapshot {
  found: boolean;
  bytes: number;
  nextJournal: number;
}

/**
 * Fill an empty store from the snapshot at `path`. A missing file is a first start; a file of
 * another format is an error, so a bad file is never silently replaced by an empty state.
 */
export async function loadSnapshot(store: Store, path: string): Promise<LoadedSnapshot> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      return { found: false, bytes: 0, nextJournal: 0 };
    }
    throw error;
  }
  const parsed: unknown = JSON.parse(raw.toString("utf8"));
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !("version" in parsed) ||
    parsed.version !== 1
  ) {
    throw new Error(`${path} is not an emulator state file (version 1)`);
  }
  // Our own file, written by writeSnapshot (or the whole-file save before it): trusted past
  // the version check.
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
  return { found: true, bytes: raw.length, nextJournal: saved.next_journal ?? 0 };
}
