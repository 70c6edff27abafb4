import type { Outcome } from "./classify.ts";

/** A rejection Stripe gave for one event. */
export type Rejection = Extract<Outcome, { kind: "rejected" }>;

/**
 * The seam for the "systemic" row of the outcome table: the same rejection code across many
 * customers in a short window is not poison but a systemic fault (a bad deploy, a changed
 * meter), and must halt instead of dead-lettering the queue. Deciding that needs memory over
 * many events and time, so it lives behind this port; the worker asks it before failing any
 * event for a Stripe rejection.
 */
export interface SystemicGuard {
  /**
   * Judges ONE request's rejection, with every customer whose events it carried (a stream
   * request holds many): "systemic" halts, and nothing of the request is failed or counted.
   */
  judge(rejection: Rejection, customerKeys: readonly string[], now: Date): "poison" | "systemic";
  /** A delivery for a customer: Stripe works for it, which a systemic cause would not allow. */
  delivered(customerKey: string, now: Date): void;
}

/** A guard for tests that want no detection: every rejection is the event's own. The default is
 * the cross-customer detector (systemic-detector.ts). */
export const everyRejectionIsPoison: SystemicGuard = { judge: () => "poison", delivered: () => {} };
