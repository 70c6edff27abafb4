/** What the emulator counted: totals per customer × event_name, and every accepted event. */
export interface Ledger {
  /** Sum of counted event values per (customer, event_name). */
  totals: Array<{ customer: string; event_name: string; value: number }>;
  /** Every accepted meter event, counted or not (with the asynchronous reason when not). */
  events: Array<{
    identifier: string;
    event_name: string;
    customer: string | null;
    value: number;
    timestamp: number;
    created: number;
    counted: boolean;
    reason: string | null;
  }>;
}

/** One accepted meter event as the ledger keeps it. */
export type LedgerEvent = Ledger["events"][number];

/**
 * The source of truth for "what Stripe holds": the chaos tests compare it with the outbox, so
 * it records every accepted event, and sums only the ones Stripe would count.
 */
export class LedgerBook {
  private readonly events: LedgerEvent[] = [];
  // Keyed by a JSON pair so no customer id or event name can collide through a separator.
  private readonly totals = new Map<string, Ledger["totals"][number]>();

  /** Record an accepted event; counted events add their value to the totals. */
  record(event: LedgerEvent): void {
    this.events.push({ ...event });
    if (!event.counted || event.customer === null) return;
    const key = JSON.stringify([event.customer, event.event_name]);
    const total = this.totals.get(key);
    if (total) total.value += event.value;
    else
      this.totals.set(key, {
        customer: event.customer,
        event_name: event.event_name,
        value: event.value,
      });
  }

  /** A deep copy, safe to hand out: totals sorted by customer then event name, events in order. */
  snapshot(): Ledger {
    const totals = [...this.totals.values()]
      .map((t) => ({ ...t }))
      .sort(
        (a, b) => a.customer.localeCompare(b.customer) || a.event_name.localeCompare(b.event_name),
      );
    return { totals, events: this.events.map((e) => ({ ...e })) };
  }
}
