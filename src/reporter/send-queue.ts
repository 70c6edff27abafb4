/** Something to send, and the key that serialises it with others. */
export interface Keyed {
  key: string;
}

/**
 * The events waiting to be sent, grouped by key (customer, meter): `take()` hands out the next
 * event whose key has nothing in flight, so there is at most ONE request in flight per
 * (customer, meter), as Stripe requires. Keys take turns, so one busy customer cannot starve
 * the others.
 */
export class SendQueue<T extends Keyed> {
  private readonly byKey = new Map<string, T[]>();
  /** Keys with something queued and nothing in flight, in turn order (a Set keeps insertion order). */
  private readonly ready = new Set<string>();
  private readonly busy = new Set<string>();
  private count = 0;

  /** Events queued (not in flight). */
  get size(): number {
    return this.count;
  }

  /** Events in flight (one per key). */
  get inFlight(): number {
    return this.busy.size;
  }

  /** Queues an event behind the others of its key. */
  push(item: T): void {
    const queue = this.byKey.get(item.key);
    if (queue) queue.push(item);
    else this.byKey.set(item.key, [item]);
    if (!this.busy.has(item.key)) this.ready.add(item.key);
    this.count++;
  }

  /**
   * The next event whose key is free (and that `accept` lets go now: a rate limit may hold
   * some back, their keys keep their turn), now marked in flight; undefined when none.
   */
  take(accept?: (item: T) => boolean): T | undefined {
    for (const key of this.ready) {
      const queue = this.byKey.get(key);
      const item = queue?.[0];
      if (!queue || !item) {
        this.ready.delete(key);
        continue;
      }
      if (accept && !accept(item)) continue;
      this.ready.delete(key);
      queue.shift();
      if (queue.length === 0) this.byKey.delete(key);
      this.busy.add(key);
      this.count--;
      return item;
    }
    return undefined;
  }

  /** The send of `key` finished: its next event (if any) may go, at the back of the turn order. */
  done(key: string): void {
    this.busy.delete(key);
    if (this.byKey.has(key)) this.ready.add(key);
  }

  /** Removes and returns every queued event (not those in flight). */
  drain(): T[] {
    const all = [...this.byKey.values()].flat();
    this.byKey.clear();
    this.ready.clear();
    this.count = 0;
    return all;
  }
}
