/**
 * What the emulator counted: totals per customer × event_name, every accepted meter event, and
 * every legacy usage record.
 *
 * Usage records have no event_name at Stripe. The ledger files them under the price's
 * `lookup_key` (or, without one, the price id) as their `event_name`, so a test that gives the
 * metered price the lookup key of its meter's event name compares one table for every
 * delivery mode. `set` replaces the quantity at its timestamp, `increment` adds to it; the
 * totals follow the difference.
 */
export interface Ledger {
  /** Sum of counted values per (customer, event_name). */
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
    /** The meter the event was routed to (null without one); summaries read it. */
    meter: string | null;
  }>;
  /** Every accepted legacy usage record. */
  usage_records: Array<{
    id: string;
    subscription_item: string;
    customer: string;
    event_name: string;
    quantity: number;
    action: "increment" | "set";
    timestamp: number;
    created: number;
  }>;
}

/** One accepted meter event as the ledger keeps it. */
export type LedgerEvent = Ledger["events"][number];
/** One accepted usage record as the ledger keeps it. */
export type LedgerUsageRecord = Ledger["usage_records"][number];

/**
 * The source of truth for "what Stripe holds": the chaos tests compare it with the outbox, so
 * it records every accepted event, and sums only the ones Stripe would count.
 */
export class LedgerBook {
  private readonly events: LedgerEvent[] = [];
  private readonly byIdentifier = new Map<string, LedgerEvent>();
  private readonly usageRecords: LedgerUsageRecord[] = [];
  // Usage quantity per (subscription item, timestamp), what `set` replaces.
  private readonly usageAt = new Map<string, number>();
  // Keyed by a JSON pair so no customer id or event name can collide through a separator.
  private readonly totals = new Map<string, Ledger["totals"][number]>();

  /** Record an accepted event; counted events add their value to the totals. */
  record(event: LedgerEvent): void {
    const copy = { ...event };
    this.events.push(copy);
    // A dropped repeat (v2 stream) must not hide the event that holds the identifier.
    if (copy.reason !== "duplicate_identifier") this.byIdentifier.set(copy.identifier, copy);
    if (copy.counted && copy.customer !== null)
      this.add(copy.customer, copy.event_name, copy.value);
  }

  /** The latest recorded event with this identifier, or null. */
  find(identifier: string): LedgerEvent | null {
    const event = this.byIdentifier.get(identifier);
    return event ? { ...event } : null;
  }

  /** Take a counted event out of the totals (a meter event adjustment's cancel). */
  cancel(identifier: string): boolean {
    const event = this.byIdentifier.get(identifier);
    if (!event?.counted || event.customer === null) return false;
    event.counted = false;
    event.reason = "cancelled";
    this.add(event.customer, event.event_name, -event.value);
    return true;
  }

  /** Record a usage record and move the totals by what it changed. */
  recordUsage(record: LedgerUsageRecord): void {
    this.usageRecords.push({ ...record });
    const at = JSON.stringify([record.subscription_item, record.timestamp]);
    const before = this.usageAt.get(at) ?? 0;
    const after = record.action === "set" ? record.quantity : before + record.quantity;
    this.usageAt.set(at, after);
    this.add(record.customer, record.event_name, after - before);
  }

  /** Copies of one subscription item's usage records, in the order they were applied. */
  usageRecordsOf(subscriptionItem: string): LedgerUsageRecord[] {
    return this.usageRecords
      .filter((r) => r.subscription_item === subscriptionItem)
      .map((r) => ({ ...r }));
  }

  /** Counted events, in order (summaries aggregate them). */
  countedEvents(): readonly LedgerEvent[] {
    return this.events.filter((e) => e.counted);
  }

  /** How many events and usage records it holds: where a snapshot of it ends (state/snapshot.ts). */
  sizes(): { events: number; usageRecords: number } {
    return { events: this.events.length, usageRecords: this.usageRecords.length };
  }

  /** Events [start, end) as held, not copied: for writing a snapshot, never to hand out. */
  eventSlice(start: number, end: number): readonly Readonly<LedgerEvent>[] {
    return this.events.slice(start, end);
  }

  /** Usage records [start, end) as held, not copied: for writing a snapshot only. */
  usageSlice(start: number, end: number): readonly Readonly<LedgerUsageRecord>[] {
    return this.usageRecords.slice(start, end);
  }

  /** A deep copy, safe to hand out: totals sorted by customer then event name, events in order. */
  snapshot(): Ledger {
    const totals = [...this.totals.values()]
      .map((t) => ({ ...t }))
      .sort(
        (a, b) => a.customer.localeCompare(b.customer) || a.event_name.localeCompare(b.event_name),
      );
    return {
      totals,
      events: this.events.map((e) => ({ ...e })),
      usage_records: this.usageRecords.map((r) => ({ ...r })),
    };
  }

  /** Rebuild a ledger from a snapshot (the state file): replaying rebuilds the totals. */
  static restore(saved: Pick<Ledger, "events" | "usage_records">): LedgerBook {
    const book = new LedgerBook();
    for (const event of saved.events) {
      const cancelled = event.reason === "cancelled";
      book.record({ ...event, counted: event.counted || cancelled });
      if (cancelled) book.cancel(event.identifier);
    }
    for (const record of saved.usage_records) book.recordUsage(record);
    return book;
  }

  private add(customer: string, eventName: string, delta: number): void {
    const key = JSON.stringify([customer, eventName]);
    const total = this.totals.get(key);
    if (total) total.value += delta;
    else this.totals.set(key, { customer, event_name: eventName, value: delta });
  }
}
