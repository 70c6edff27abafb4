/**
 * Every reason Meterline gives for an event that waits, and every code it dead-letters an event
 * with, in one typed registry: what the reason touches (its scope, i.e. its blast radius) and the
 * operator's next step. The reporter and the outbox write only these (Stripe's own codes pass
 * through as Stripe gave them, and are explained by the attempt's scope).
 */

/** What a reason touches: one event, one customer, one meter, the account, Stripe, a worker. */
export type Scope = "event" | "customer" | "meter" | "account" | "stripe" | "worker" | "operator";

/** A registry entry. */
export interface Reason {
  scope: Scope;
  /** What a person does about it; "nothing" when Meterline resolves it by itself. */
  nextStep: string;
}

/** Why a pending event waits (usage_events.wait_reason). */
export const WAIT_REASONS = {
  customer_unlinked: {
    scope: "customer",
    nextStep:
      "link the customer to Stripe (PUT /v1/customers/:key with stripe_customer_id); it fails as customer_unlinked after METERLINE_UNLINKED_HOLD_HOURS",
  },
  subscription_item_missing: {
    scope: "customer",
    nextStep:
      "set the customer's subscription item for the meter (PUT /v1/customers/:key/subscription_items/:event_name)",
  },
  meter_unknown: { scope: "meter", nextStep: "declare the meter (PUT /v1/meters/:event_name)" },
  meter_inactive: { scope: "meter", nextStep: "reactivate the meter (PUT /v1/meters/:event_name)" },
  meter_rejected: {
    scope: "meter",
    nextStep: "fix the meter in Stripe (archived, missing, payload keys) or its declaration here",
  },
  delivery_mode_unavailable: {
    scope: "meter",
    nextStep: "run a worker that can send the meter's delivery mode, or change the mode",
  },
  timestamp_in_future: { scope: "event", nextStep: "nothing: it is sent once its time comes" },
  retry: { scope: "event", nextStep: "nothing: it is retried with backoff" },
  throttled: { scope: "account", nextStep: "nothing: Stripe rate-limited; the worker slows down" },
  session_expired: { scope: "stripe", nextStep: "nothing: the v2 session is refreshed" },
  stripe_unavailable: {
    scope: "stripe",
    nextStep: "nothing: Stripe fails for many customers; retries are not counted meanwhile",
  },
  account_halted: {
    scope: "account",
    nextStep: "fix the key or the account (401/403): reporting resumes by itself after a probe",
  },
  systemic_halt: {
    scope: "account",
    nextStep:
      "find what rejects many customers alike (a deployment, the meter's configuration, the Stripe account): reporting resumes by itself after a probe",
  },
} as const satisfies Record<string, Reason>;

/** A wait reason. */
export type WaitReason = keyof typeof WAIT_REASONS;

/** Meterline's own dead-letter codes (usage_events.last_error_code of a failed or discarded event). */
export const DEAD_LETTER_CODES = {
  retries_exhausted: {
    scope: "event",
    nextStep:
      "read the last answer; once the cause is fixed, retry it (if Stripe may hold it, look the identifier up first)",
  },
  dedup_window_expired: {
    scope: "event",
    nextStep:
      "look the identifier (the event id) up in Stripe: resolve it as delivered if Stripe holds it, else retry it with --not-in-stripe",
  },
  usage_record_unverified: {
    scope: "customer",
    nextStep:
      "compare the subscription item's usage in Stripe with the figures in the message: resolve as delivered, or retry with --not-in-stripe",
  },
  crash_loop: {
    scope: "worker",
    nextStep: "read the worker logs around its id; once fixed, retry it",
  },
  timestamp_too_old: {
    scope: "event",
    nextStep: "Stripe no longer takes it: bill it another way (an invoice item), then discard it",
  },
  identifier_too_long: {
    scope: "event",
    nextStep:
      "the producer sent an id Stripe cannot take: send it again with a shorter id, discard this",
  },
  customer_not_found: { scope: "customer", nextStep: "create the customer, then retry it" },
  customer_deleted: {
    scope: "customer",
    nextStep: "restore the customer if the usage should be billed, then retry; else discard",
  },
  customer_unlinked: {
    scope: "customer",
    nextStep: "link the customer to Stripe (PUT /v1/customers/:key), then retry it",
  },
  subscription_item_missing: {
    scope: "customer",
    nextStep: "set the customer's subscription item for the meter, then retry it",
  },
  cancelled: { scope: "operator", nextStep: "nothing: a person cancelled it (see the reason)" },
} as const satisfies Record<string, Reason>;

/** One of Meterline's own dead-letter codes. */
export type DeadLetterCode = keyof typeof DEAD_LETTER_CODES;

/** The registry entry of a code or wait reason, or null for a code Stripe gave (see the attempt). */
export function reasonOf(code: string | null): Reason | null {
  if (code === null) return null;
  if (Object.hasOwn(DEAD_LETTER_CODES, code)) return DEAD_LETTER_CODES[code as DeadLetterCode];
  if (Object.hasOwn(WAIT_REASONS, code)) return WAIT_REASONS[code as WaitReason];
  return null;
}

/** The wait reasons of one scope (what to wake when a customer or a meter changes). */
export function waitsOfScope(scope: Scope): WaitReason[] {
  return (Object.keys(WAIT_REASONS) as WaitReason[]).filter((r) => WAIT_REASONS[r].scope === scope);
}
