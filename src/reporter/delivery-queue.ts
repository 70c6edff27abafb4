import type { SendItem } from "./admit.ts";
import { SendQueue } from "./send-queue.ts";

/** What the worker sends in one request: one event, or a batch for a sink that takes batches. */
export interface SendUnit {
  items: SendItem[];
  /** The (customer, meter) keys the request holds: each has nothing else in flight. */
  keys: string[];
}

/** True when the item's sink sends batches (the v2 stream). */
export function isBatched(item: SendItem): boolean {
  return item.sink.sendBatch !== undefined && (item.sink.maxBatch ?? 1) > 1;
}

/**
 * The worker's send queue for every delivery mode. One-per-event sinks (v1 meter events, usage
 * records) go through SendQueue: one request in flight per (customer, meter). Batch sinks (the
 * v2 stream) are grouped per sink into requests of up to `maxBatch` events, taking ALL queued
 * events of a (customer, meter) key at once, so one request still holds each key alone and
 * keeps its order, while one busy customer's backlog fills whole requests; less than half a
 * request waits while another is in flight. The two kinds take turns, so neither starves the
 * other.
 */
export class DeliveryQueue {
  private readonly single = new SendQueue<SendItem>();
  private readonly batched = new Map<string, SendItem[]>();
  /** Batched keys with something queued and nothing in flight, in turn order. */
  private readonly ready = new Set<string>();
  private readonly busy = new Set<string>();
  private batchedCount = 0;
  private batchTurn = false;

  /** Events queued (not in flight). */
  get size(): number {
    return this.single.size + this.batchedCount;
  }

  /** One-event requests in flight. */
  get singlesInFlight(): number {
    return this.single.inFlight;
  }

  /** Queues an event behind the others of its key. */
  push(item: SendItem): void {
    if (!isBatched(item)) {
      this.single.push(item);
      return;
    }
    const queue = this.batched.get(item.key);
    if (queue) queue.push(item);
    else this.batched.set(item.key, [item]);
    if (!this.busy.has(item.key)) this.ready.add(item.key);
    this.batchedCount++;
  }

  /**
   * The next request to make, its keys now marked in flight; undefined when nothing is free.
   * `mayLeave(sink)` says whether a request through that sink may leave now (its rate limit):
   * requests of a sink that may not wait in the queue, and the others go past them.
   */
  take(mayLeave?: (sink: SendItem["sink"]) => boolean): SendUnit | undefined {
    this.batchTurn = !this.batchTurn;
    const first = this.batchTurn ? this.takeBatch(mayLeave) : this.takeSingle(mayLeave);
    return first ?? (this.batchTurn ? this.takeSingle(mayLeave) : this.takeBatch(mayLeave));
  }

  /** The request of `unit` finished: its keys' next events may go. */
  done(unit: SendUnit): void {
    for (const key of unit.keys) {
      // `busy` holds batched keys only; any other key was the single queue's.
      if (this.busy.delete(key)) {
        if (this.batched.has(key)) this.ready.add(key);
      } else {
        this.single.done(key);
      }
    }
  }

  /** Removes and returns every queued event (not those in flight). */
  drain(): SendItem[] {
    const all = [...this.single.drain(), ...[...this.batched.values()].flat()];
    this.batched.clear();
    this.ready.clear();
    this.batchedCount = 0;
    return all;
  }

  private takeSingle(mayLeave?: (sink: SendItem["sink"]) => boolean): SendUnit | undefined {
    const item = this.single.take(mayLeave && ((i) => mayLeave(i.sink)));
    return item ? { items: [item], keys: [item.key] } : undefined;
  }

  private takeBatch(mayLeave?: (sink: SendItem["sink"]) => boolean): SendUnit | undefined {
    const picked: Array<{ key: string; queue: SendItem[]; n: number }> = [];
    let count = 0;
    let sink: SendItem["sink"] | null = null;
    let limit = 1;
    for (const key of this.ready) {
      const queue = this.batched.get(key);
      const head = queue?.[0];
      if (!queue || !head) {
        this.ready.delete(key);
        continue;
      }
      // One request goes to one sink; a key whose events need another sink waits its turn.
      if (sink !== null && head.sink !== sink) continue;
      if (sink === null) {
        if (mayLeave && !mayLeave(head.sink)) continue;
        sink = head.sink;
        limit = head.sink.maxBatch ?? 1;
      }
      // A key's events go together or wait for the next request: never split across two
      // requests in flight at once.
      if (count > 0 && count + queue.length > limit) continue;
      const n = Math.min(queue.length, limit - count);
      picked.push({ key, queue, n });
      count += n;
      if (count >= limit) break;
    }
    if (count === 0) return undefined;
    // Less than half a request while another is in flight: wait for it (its answer frees its
    // keys, and claims go on arriving). Taken at once, the few events whose keys were free
    // each time a request ended left in requests of a few dozen: every request costs both
    // sides a round trip, whatever it holds. Once nothing is in flight, whatever is queued goes.
    if (this.busy.size > 0 && count < Math.ceil(limit / 2)) return undefined;
    const items: SendItem[] = [];
    for (const { key, queue, n } of picked) {
      items.push(...queue.splice(0, n));
      this.ready.delete(key);
      this.busy.add(key);
      if (queue.length === 0) this.batched.delete(key);
    }
    this.batchedCount -= count;
    return { items, keys: picked.map((p) => p.key) };
  }
}
