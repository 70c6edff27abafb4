import { describe, expect, it } from "vitest";
import { HeldLeases } from "../../src/reporter/held-leases.ts";
import { event } from "./fixtures.ts";

describe("the leases a worker holds", () => {
  it("a worker that rescues its own expired lease while the old send is in flight keeps the new claim: the old settle forgets only its own", () => {
    const held = new HeldLeases();
    held.hold(event({ id: "e", claims: 1 }));
    // The lease expired (the heartbeat stalled) and this worker claimed the event again.
    held.hold(event({ id: "e", claims: 2 }));
    // The old send's settle (claim 1) arrives: the new claim must stay held, so the heartbeat
    // keeps renewing it.
    held.forget({ id: "e", claims: 1 });
    expect(held.ids()).toEqual(["e"]);
    held.forget({ id: "e", claims: 2 });
    expect(held.size).toBe(0);
  });

  it("a stream event marked batched counts apart, until its claim is forgotten or claimed anew", () => {
    const held = new HeldLeases();
    held.hold(event({ id: "s", claims: 1 }));
    held.markBatched("s");
    held.markBatched("not-held");
    expect(held.batched).toBe(1);
    held.hold(event({ id: "s", claims: 2 }));
    expect(held.batched).toBe(0);
    held.markBatched("s");
    held.forget({ id: "s", claims: 2 });
    expect(held.batched).toBe(0);
  });

  it("an event whose outcome only waits for its settle write no longer counts as still to send", () => {
    const held = new HeldLeases();
    held.hold(event({ id: "a", claims: 1 }));
    held.hold(event({ id: "s", claims: 1 }));
    held.markBatched("s");
    held.markSettling({ id: "s", claims: 1 });
    // Not by an older claim's row.
    held.markSettling({ id: "a", claims: 0 });
    expect(held.unsettled()).toEqual({ size: 1, batched: 0 });
    expect(held.size).toBe(2);
    held.forget({ id: "s", claims: 1 });
    expect(held.unsettled()).toEqual({ size: 1, batched: 0 });
  });

  it("the heartbeat renews a lease once it is a sixth of the way through, not a fresh one", () => {
    const held = new HeldLeases();
    held.hold(event({ id: "old", claims: 1 }), 0);
    held.hold(event({ id: "new", claims: 1 }), 10_000);
    expect(held.renewable(10_000, 15_000)).toEqual(["old"]);
    held.renewed(["old"], 10_000);
    expect(held.renewable(12_000, 15_000)).toEqual([]);
    expect(held.renewable(12_500, 15_000).sort()).toEqual(["new", "old"]);
  });
});
