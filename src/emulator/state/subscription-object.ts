import type Stripe from "stripe";
import type { Store } from "./store.ts";
import { itemObject, type SubscriptionRecord } from "./subscriptions.ts";

/**
 * A subscription record as Stripe's `subscription` object (fixtures3.json's shape, basil
 * and later: no current_period_* on the subscription, they live on the items). Fields the
 * emulator does not model carry Stripe's defaults for a plain charge_automatically subscription.
 */
export function subscriptionObject(store: Store, r: SubscriptionRecord): Stripe.Subscription {
  const items = r.items.map((item) => itemObject(store, r, item));
  const currency = items[0]?.price.currency ?? "usd";
  return {
    id: r.id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: r.created,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    billing_schedules: [],
    billing_thresholds: null,
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: r.canceled_at,
    cancellation_details: { comment: null, feedback: null, feedback_option: null, reason: null },
    collection_method: "charge_automatically",
    created: r.created,
    currency,
    customer: r.customer,
    customer_account: null,
    days_until_due: null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: r.canceled_at,
    invoice_settings: {
      account_tax_ids: null,
      custom_fields: null,
      description: null,
      footer: null,
      issuer: { type: "self" },
    },
    items: {
      object: "list",
      data: items,
      has_more: false,
      url: `/v1/subscription_items?subscription=${r.id}`,
    },
    latest_invoice: null,
    livemode: r.livemode,
    managed_payments: null,
    metadata: { ...r.metadata },
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: {
      payment_method_options: null,
      payment_method_types: null,
      save_default_payment_method: "off",
    },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: r.created,
    status: r.status,
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: {
      end_behavior: { billing_cycle_anchor: "unchanged", missing_payment_method: "create_invoice" },
    },
    trial_start: null,
  };
}
