import type { Config } from "../config.ts";
import type { Rejection, SystemicGuard } from "./systemic.ts";

/** The settings the detector reads: how many distinct customers, within how long. */
export type SystemicSettings = Pick<Config["worker"], "systemicCustomers" | "systemicWindowMs">;

/** The code a rejection is grouped by: Stripe's, or the scope when Stripe gave none. */
export function rejectionCode(rejection: Rejection): string {
  return rejection.answer.code ?? `${rejection.scope}_rejected`;
}

/**
 * The cross-customer detector. Systemic (a bad deploy, a changed meter, the wrong Stripe
 * account, Stripe's own bug) means BOTH:
 * - the same rejection code from `systemicCustomers` distinct customers within
 *   `systemicWindowMs`: one cause that hits many customers at once is ours or Stripe's; and
 * - the other customers do not succeed: no customer outside that set was delivered since the
 *   first of those rejections. Six customers whose subscription items are gone, among fifty
 *   healthy ones that flow, are six customers' problems (customer scope, failed with a reason);
 *   a key for the wrong Stripe account (every customer "missing", nothing delivered) halts.
 * Customer-scope codes count too: "customer not found" for five customers in a minute with
 * nothing else delivered is far likelier a key for the wrong account than five deletions.
 *
 * Per process and in memory: each process sees its share of the rejections, so across N
 * workers the threshold is reached at most N times later. Pure apart from its memory; time is
 * passed in.
 */
export function createSystemicDetector(settings: SystemicSettings): SystemicGuard {
  /**
   * code → customer → first and last time it was rejected with the code (within the window,
   * counted by the last). "Since" reads the first: a customer rejected again later must not move
   * it past the deliveries that showed the others succeed meanwhile.
   */
  const seen = new Map<string, Map<string, { first: number; last: number }>>();
  /** customer → last delivery: who Stripe works for, within the window. */
  const deliveries = new Map<string, number>();

  const prune = (m: Map<string, number>, t: number) => {
    for (const [customer, at] of m) if (t - at > settings.systemicWindowMs) m.delete(customer);
  };
  const pruneSeen = (m: Map<string, { first: number; last: number }>, t: number) => {
    for (const [customer, at] of m) if (t - at.last > settings.systemicWindowMs) m.delete(customer);
  };

  return {
    judge(rejection, customerKeys, now) {
      const t = now.getTime();
      const code = rejectionCode(rejection);
      const customers = seen.get(code) ?? new Map<string, { first: number; last: number }>();
      seen.set(code, customers);
      pruneSeen(customers, t);
      for (const key of customerKeys) {
        customers.set(key, { first: customers.get(key)?.first ?? t, last: t });
      }
      if (customers.size < settings.systemicCustomers) return "poison";
      prune(deliveries, t);
      const since = Math.min(...[...customers.values()].map((c) => c.first));
      for (const [customer, at] of deliveries) {
        if (at >= since && !customers.has(customer)) return "poison";
      }
      return "systemic";
    },
    delivered(customerKey, now) {
      deliveries.set(customerKey, now.getTime());
      // Bounded: pruned here too, so a stream of deliveries with no rejection cannot grow it.
      if (deliveries.size > 10_000) prune(deliveries, now.getTime());
    },
  };
}
