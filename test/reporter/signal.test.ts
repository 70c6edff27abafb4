import { describe, expect, it } from "vitest";
import { idleWithin, Signal } from "../../src/reporter/signal.ts";

describe("Signal", () => {
  it("fire() wakes a waiter at once, before its timer", async () => {
    const signal = new Signal();
    let woke = false;
    const waiting = signal.wait(60_000).then(() => {
      woke = true;
    });
    signal.fire();
    await waiting;
    expect(woke).toBe(true);
  });

  it("a waiter with a condition sleeps through the fires it does not let through", async () => {
    const signal = new Signal();
    let room = false;
    let woke = false;
    const waiting = signal
      .wait(60_000, () => room)
      .then(() => {
        woke = true;
      });
    signal.fire();
    await new Promise((resolve) => setImmediate(resolve));
    expect(woke).toBe(false);
    room = true;
    signal.fire();
    await waiting;
    expect(woke).toBe(true);
  });

  it("the timer still ends a wait whose condition never holds", async () => {
    const signal = new Signal();
    const at = Date.now();
    await signal.wait(20, () => false);
    expect(Date.now() - at).toBeGreaterThanOrEqual(15);
  });

  it("idleWithin returns once busy() turns false at a fire, long before its budget", async () => {
    const signal = new Signal();
    let busy = true;
    const idle = idleWithin(signal, () => busy, 60_000, 60_000);
    signal.fire();
    busy = false;
    signal.fire();
    await expect(idle).resolves.toBe(true);
  });
});
