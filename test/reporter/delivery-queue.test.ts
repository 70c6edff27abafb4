import { describe, expect, it } from "vitest";
import type { SendItem } from "../../src/reporter/admit.ts";
import { DeliveryQueue } from "../../src/reporter/delivery-queue.ts";
import type { UsageSink } from "../../src/reporter/sinks/port.ts";
import { event, okSink } from "./fixtures.ts";

const single = okSink({ mode: "meter_events" });
const stream = okSink({
  mode: "meter_stream",
  maxBatch: 3,
  sendBatch: async () => ({ kind: "ok", status: 200, requestId: null }) as const,
});

let n = 0;
function item(key: string, sink: UsageSink): SendItem {
  n++;
  const e = event({ id: `e${n}` });
  return {
    key,
    event: e,
    sink,
    outbound: {
      id: e.id,
      identifier: e.id,
      eventName: e.eventName,
      stripeCustomerId: "cus_1",
      value: 1,
      occurredAt: e.occurredAt,
      customerPayloadKey: "stripe_customer_id",
      valuePayloadKey: "value",
    },
  };
}

const ids = (items: SendItem[] | undefined) => (items ?? []).map((i) => i.event.id);

describe("DeliveryQueue", () => {
  it("one-per-event sinks: one event per request, one request in flight per key", () => {
    const q = new DeliveryQueue();
    const [a1, a2, b1] = [item("a", single), item("a", single), item("b", single)];
    for (const i of [a1, a2, b1]) q.push(i);
    const first = q.take();
    const second = q.take();
    expect([ids(first?.items), ids(second?.items)]).toEqual([[a1.event.id], [b1.event.id]]);
    expect(q.take()).toBeUndefined(); // a2 waits for a1's request
    if (first) q.done(first);
    expect(ids(q.take()?.items)).toEqual([a2.event.id]);
  });

  it("batch sinks: up to maxBatch events of several keys in one request, a key's events together and in order", () => {
    const q = new DeliveryQueue();
    const a = [item("a", stream), item("a", stream)];
    const b = [item("b", stream)];
    const c = [item("c", stream), item("c", stream)];
    for (const i of [...a, ...b, ...c]) q.push(i);
    const first = q.take();
    // a (2) + b (1) = 3 = maxBatch; c's two events would not fit beside them, so they wait.
    expect(ids(first?.items)).toEqual(ids([...a, ...b]));
    expect(first?.keys).toEqual(["a", "b"]);
    const second = q.take();
    expect(ids(second?.items)).toEqual(ids(c));
    expect(q.size).toBe(0);
  });

  it("a key with more than maxBatch events fills a request, and its rest waits for that request", () => {
    const q = new DeliveryQueue();
    const a = Array.from({ length: 5 }, () => item("a", stream));
    for (const i of a) q.push(i);
    const first = q.take();
    expect(ids(first?.items)).toEqual(ids(a.slice(0, 3)));
    expect(q.take()).toBeUndefined();
    if (first) q.done(first);
    expect(ids(q.take()?.items)).toEqual(ids(a.slice(3)));
  });

  it("less than half a request waits while another batched request is in flight, and goes once none is", () => {
    const q = new DeliveryQueue();
    const first = [item("a", stream), item("b", stream), item("c", stream)];
    for (const i of first) q.push(i);
    const full = q.take();
    expect(ids(full?.items)).toEqual(ids(first));
    const late = item("d", stream);
    q.push(late);
    // One event of a maxBatch of 3, with a request in flight: it waits.
    expect(q.take()).toBeUndefined();
    expect(q.size).toBe(1);
    // Half a request (2 of 3) goes beside the one in flight.
    const more = item("e", stream);
    q.push(more);
    const half = q.take();
    expect(ids(half?.items)).toEqual(ids([late, more]));
    // Nothing in flight: even one event goes.
    if (full) q.done(full);
    if (half) q.done(half);
    const last = item("f", stream);
    q.push(last);
    expect(ids(q.take()?.items)).toEqual(ids([last]));
  });

  it("single and batched requests take turns; drain returns everything queued", () => {
    const q = new DeliveryQueue();
    for (const i of [item("s1", single), item("s2", single), item("b1", stream)]) q.push(i);
    const kinds = [q.take(), q.take(), q.take()].map((u) => u?.items[0]?.sink.mode);
    expect(kinds).toContain("meter_stream");
    expect(kinds.filter((k) => k === "meter_events")).toHaveLength(2);
    q.push(item("x", single));
    q.push(item("y", stream));
    expect(q.drain()).toHaveLength(2);
    expect(q.size).toBe(0);
  });

  it("a request whose sink may not leave yet (its rate limit) is passed over; its key keeps its turn", () => {
    const limited: UsageSink = { ...single, mode: "usage_records" };
    const q = new DeliveryQueue();
    const held = item("a", limited);
    const free = item("b", single);
    q.push(held);
    q.push(free);
    const notLimited = (sink: UsageSink) => sink !== limited;
    expect(ids(q.take(notLimited)?.items)).toEqual([free.event.id]);
    expect(q.take(notLimited)).toBeUndefined();
    expect(q.size).toBe(1);
    expect(ids(q.take(() => true)?.items)).toEqual([held.event.id]);
  });

  it("a batch sink that may not leave yet is passed over too", () => {
    const q = new DeliveryQueue();
    q.push(item("a", stream));
    expect(q.take(() => false)).toBeUndefined();
    expect(q.take(() => true)?.items).toHaveLength(1);
  });
});
