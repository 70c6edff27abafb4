import type Stripe from "stripe";
import { LedgerBook } from "../ledger.ts";
import { AsyncErrorLog } from "./async-errors.ts";
import type { StateChange } from "./changes.ts";
import type { PriceRecord } from "./prices.ts";
import type { SessionRecord } from "./sessions.ts";
import type { SubscriptionRecord } from "./subscriptions.ts";
import type { ThinEventRecord } from "./thin-events.ts";

/** A customer as the emulator keeps it: deleted customers stay, so retrieve can say so. */
export interface CustomerEntry {
  /** The customer as it was last served. */
  customer: Stripe.Customer;
  /** Set by DELETE; Stripe then answers retrieve with `{id, object, deleted: true}`. */
  deleted: boolean;
}

/**
 * All of the emulator's Stripe state, in memory. Maps keep insertion order, which is creation
 * order: lists read them newest first, as Stripe does.
 */
export class Store {
  /** Customers by id, deleted ones included. */
  readonly customers = new Map<string, CustomerEntry>();
  /** Billing meters by id. */
  readonly meters = new Map<string, Stripe.Billing.Meter>();
  /** Meter event identifier → when it was accepted (clock ms), for the dedup window. */
  readonly identifiers = new Map<string, number>();
  /** Everything accepted, and what counted. */
  ledger = new LedgerBook();
  /** Products by id. */
  readonly products = new Map<string, Stripe.Product>();
  /** Prices by id. */
  readonly prices = new Map<string, PriceRecord>();
  /** Subscriptions by id, with their items. */
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  /** Subscription item id → its subscription's id. */
  readonly itemIndex = new Map<string, string>();
  /** Meter event sessions by authentication token. */
  readonly sessions = new Map<string, SessionRecord>();
  /** v2 core events (thin events' full form) by id. */
  readonly events = new Map<string, ThinEventRecord>();
  /** Asynchronous validation failures not yet reported in an error report. */
  readonly asyncErrors = new AsyncErrorLog();
  /**
   * Told of every change to the durable part above (customers through subscriptions), in the
   * order they happen, right after each: the state file's journal when one is kept
   * (state/state-file.ts), nothing otherwise. Every write to those collections calls it.
   */
  changed: (change: StateChange) => void = () => {};
}
