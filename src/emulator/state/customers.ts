import type Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { unixSeconds } from "../clock.ts";
import { resourceMissing } from "../errors.ts";
import { newCustomerId, newInvoicePrefix } from "../ids.ts";
import type { CustomerEntry, Store } from "./store.ts";

/** The fields a customer can be created or updated with (the subset Meterline uses). */
export interface CustomerFields {
  /** Full name or business name. */
  name?: string;
  /** Email address. */
  email?: string;
  /** Free-text description. */
  description?: string;
  /** Phone number. */
  phone?: string;
  /** Key-value pairs; merged on update, as Stripe merges metadata. */
  metadata?: Record<string, string>;
}

/** Create a customer shaped like fixtures3.json's `customer` (no address, no discount). */
export function createCustomer(
  store: Store,
  clock: Clock,
  livemode: boolean,
  fields: CustomerFields,
): Stripe.Customer {
  const customer: Stripe.Customer = {
    id: newCustomerId(),
    object: "customer",
    address: null,
    balance: 0,
    created: unixSeconds(clock),
    currency: null,
    default_source: null,
    delinquent: false,
    description: fields.description ?? null,
    discount: null,
    email: fields.email ?? null,
    invoice_prefix: newInvoicePrefix(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode,
    metadata: { ...fields.metadata },
    name: fields.name ?? null,
    next_invoice_sequence: 1,
    phone: fields.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
  const entry: CustomerEntry = { customer, deleted: false };
  store.customers.set(customer.id, entry);
  store.changed({ k: "customer", id: customer.id, v: entry });
  return structuredClone(customer);
}

/** Retrieve: a live customer, or Stripe's deleted stub for a deleted one; 404 if never created. */
export function retrieveCustomer(
  store: Store,
  id: string,
): Stripe.Customer | Stripe.DeletedCustomer {
  const entry = store.customers.get(id);
  if (!entry) throw resourceMissing("customer", id);
  if (entry.deleted) return { id, object: "customer", deleted: true };
  return structuredClone(entry.customer);
}

/** Update a live customer's fields; a deleted one is 404 like an unknown one. */
export function updateCustomer(store: Store, id: string, fields: CustomerFields): Stripe.Customer {
  const entry = store.customers.get(id);
  if (!entry || entry.deleted) throw resourceMissing("customer", id);
  const c = entry.customer;
  if (fields.name !== undefined) c.name = fields.name;
  if (fields.email !== undefined) c.email = fields.email;
  if (fields.description !== undefined) c.description = fields.description;
  if (fields.phone !== undefined) c.phone = fields.phone;
  if (fields.metadata !== undefined) c.metadata = { ...c.metadata, ...fields.metadata };
  store.changed({ k: "customer", id, v: entry });
  return structuredClone(c);
}

/** Delete: the customer stays in the store, marked, so later retrieves say `deleted: true`. */
export function deleteCustomer(store: Store, id: string): Stripe.DeletedCustomer {
  const entry = store.customers.get(id);
  if (!entry || entry.deleted) throw resourceMissing("customer", id);
  entry.deleted = true;
  store.changed({ k: "customer", id, v: entry });
  return { id, object: "customer", deleted: true };
}

/** Whether `id` names a customer that exists and is not deleted: what meter events need. */
export function isLiveCustomer(store: Store, id: string): boolean {
  const entry = store.customers.get(id);
  return entry !== undefined && !entry.deleted;
}

/** Copies of the live customers, oldest first (lists reverse them). */
export function liveCustomers(store: Store): Stripe.Customer[] {
  return [...store.customers.values()]
    .filter((e) => !e.deleted)
    .map((e) => structuredClone(e.customer));
}
