import type { Config } from "../config.ts";
import type { Rejection, SystemicGuard } from "./systemic.ts";

/** The settings the detector reads: how many distinct customers, within how long. */
export type SystemicSettings = Pick<Config["worker"], "systemicCustomers" | "systemicWindowMs">;

/** The code a rejection is grouped by: Stripe's, or the scope when Stripe gave none. */
export function rejectionCode(rejection: Rejection): string {
  return rejection.answer.code ?? `${rejection.scope}_rejected`;
}

/**
 * The cross-customer detector: the same rejection code from `systemicCustomers` distinct
 * customers within `systemicWindowMs` is systemic (a bad deploy, a changed meter, the wrong
 * Stripe account, Stripe's own bug), not poison. Poison is one customer's or one event's
 * problem; one cause that hits many customers at once is ours or Stripe's. Customer-scope
 * codes count too: "customer not found" for five customers in a minute is far likelier a key
 * for the wrong account than five customers deleted at once.
 *
 * Per process and in memory: each process sees its share of the rejections, so across N
 * workers the threshold is reached at most N times later. Pure apart from its memory; time is
 * passed in.
 */
export function createSystemicDetector(settings: SystemicSettings): SystemicGuard {
  /** code → customer → last time it was rejected with the code. */
  const seen = new Map<string, Map<string, number>>();
  return {
    judge(rejection, event, now) {
      const t = now.getTime();
      const code = rejectionCode(rejection);
      const customers = seen.get(code) ?? new Map<string, number>();
      seen.set(code, customers);
      customers.set(event.customerKey, t);
      for (const [customer, at] of customers) {
        if (t - at > settings.systemicWindowMs) customers.delete(customer);
      }
      return customers.size >= settings.systemicCustomers ? "systemic" : "poison";
    },
  };
}
