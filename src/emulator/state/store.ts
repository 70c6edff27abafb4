import type Stripe from "stripe";
import { LedgerBook } from "../ledger.ts";

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
  readonly ledger = new LedgerBook();
}
