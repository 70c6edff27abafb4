import { describe, expect, it } from "vitest";
import { SendQueue } from "../../src/reporter/send-queue.ts";

const item = (key: string, n: number) => ({ key, n });

describe("SendQueue", () => {
  it("hands out at most one event per key until that key is done", () => {
    const q = new SendQueue<{ key: string; n: number }>();
    q.push(item("a", 1));
    q.push(item("a", 2));
    q.push(item("b", 3));
    expect(q.take()).toEqual(item("a", 1));
    expect(q.take()).toEqual(item("b", 3));
    // "a" is in flight: its second event waits.
    expect(q.take()).toBeUndefined();
    q.done("a");
    expect(q.take()).toEqual(item("a", 2));
    expect(q.size).toBe(0);
  });

  it("lets keys take turns, keeping each key's order", () => {
    const q = new SendQueue<{ key: string; n: number }>();
    for (const [k, n] of [
      ["a", 1],
      ["a", 2],
      ["b", 3],
      ["b", 4],
    ] as const)
      q.push(item(k, n));
    const order: number[] = [];
    for (let i = 0; i < 4; i++) {
      const next = q.take();
      if (!next) throw new Error("queue ran dry");
      order.push(next.n);
      q.done(next.key);
    }
    expect(order).toEqual([1, 3, 2, 4]);
  });

  it("drain returns what is queued, not what is in flight", () => {
    const q = new SendQueue<{ key: string; n: number }>();
    q.push(item("a", 1));
    q.push(item("a", 2));
    q.take();
    expect(q.drain()).toEqual([item("a", 2)]);
    expect(q.size).toBe(0);
    q.done("a");
    expect(q.take()).toBeUndefined();
  });
});
