import type { Outcome } from "./classify.ts";
import { describeAnswer } from "./decide.ts";

/** Stripe's first verdict that a customer is gone, kept to fail its other events without a call. */
export interface GoneVerdict {
  code: string;
  /** Points at the first rejection: its request id and Stripe's words. */
  message: string;
  requestId: string | null;
  httpStatus: number | null;
}

/** How long a verdict is trusted: long enough to spare Stripe a call per event, short enough
 * that a customer fixed in Stripe (or relinked) is tried again soon. */
export const GONE_TTL_MS = 10 * 60_000;

/** Codes and messages that say the Stripe customer itself does not exist (any more). */
const GONE_CODES = new Set(["customer_deleted", "meter_event_customer_not_found"]);
const GONE_MESSAGE = /no such customer|customer\b.*\bdeleted/i;

/** True for a rejection that says the Stripe customer is gone (not a wrong subscription item). */
export function isCustomerGone(outcome: Outcome): boolean {
  if (outcome.kind !== "rejected" || outcome.scope !== "customer") return false;
  const { code, message, param } = outcome.answer;
  if (code !== null && GONE_CODES.has(code)) return true;
  // resource_missing names the missing thing in param or message: only a customer counts.
  if (code === "resource_missing") return param === "customer" || GONE_MESSAGE.test(message);
  return code === null && GONE_MESSAGE.test(message);
}

/**
 * Per-process memory of gone customers, keyed by Stripe customer id (a relink to another id
 * is a new customer for Stripe). One Stripe request per gone customer, not one per event:
 * the customer's other events fail before their call with the same code.
 */
export class GoneCustomers {
  private readonly verdicts = new Map<string, GoneVerdict & { until: number }>();

  /** Remembers the verdict of a rejection that says the customer is gone; ignores others. */
  remember(stripeCustomerId: string, outcome: Outcome, now: Date): void {
    if (!isCustomerGone(outcome) || this.verdicts.has(stripeCustomerId)) return;
    const a = outcome.answer;
    const first = a.requestId ? `request ${a.requestId}` : "an earlier request";
    this.verdicts.set(stripeCustomerId, {
      code: a.code ?? "customer_rejected",
      message:
        `Stripe customer ${stripeCustomerId} is gone: Stripe said so for another event of it ` +
        `(${first}: ${describeAnswer(a)}); this event was not sent. Fix the customer's Stripe ` +
        "link (or the customer in Stripe), then retry the customer's events.",
      requestId: a.requestId,
      httpStatus: a.httpStatus,
      until: now.getTime() + GONE_TTL_MS,
    });
  }

  /** Forgets every verdict (they may all have come from one systemic cause). */
  clear(): void {
    this.verdicts.clear();
  }

  /** The verdict on a Stripe customer, if one is remembered and fresh. */
  verdict(stripeCustomerId: string, now: Date): GoneVerdict | null {
    const v = this.verdicts.get(stripeCustomerId);
    if (!v) return null;
    if (v.until <= now.getTime()) {
      this.verdicts.delete(stripeCustomerId);
      return null;
    }
    return v;
  }
}
