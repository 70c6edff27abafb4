import type { SystemicSettings } from "./systemic-detector.ts";

/**
 * Tells a Stripe outage from one event's bad luck, so that a long outage does not dead-letter
 * the queue as retries_exhausted (invariant 3). Stripe is "unavailable" while, within the
 * window, retryable failures (5xx, timeouts, connection errors) came from at least
 * `systemicCustomers` distinct customers and NOTHING was delivered. Then a retry that would
 * exhaust the event's attempts is not counted (decide.ts): retries_exhausted is only reached
 * while other events are being delivered, i.e. when the failures are this event's own.
 * The dedup window still bounds every resend (invariant 5).
 */
export class OutageTracker {
  private readonly failing = new Map<string, number>();
  private lastDelivery = Number.NEGATIVE_INFINITY;

  constructor(private readonly settings: SystemicSettings) {}

  /** Records a retryable failure for a customer. */
  failed(customerKey: string, now: Date): void {
    this.failing.set(customerKey, now.getTime());
  }

  /** Records a delivery: Stripe works. */
  delivered(now: Date): void {
    this.lastDelivery = now.getTime();
  }

  /** Whether Stripe looks unavailable now. */
  unavailable(now: Date): boolean {
    const t = now.getTime();
    const since = t - this.settings.systemicWindowMs;
    if (this.lastDelivery >= since) return false;
    for (const [customer, at] of this.failing) if (at < since) this.failing.delete(customer);
    return this.failing.size >= this.settings.systemicCustomers;
  }
}
