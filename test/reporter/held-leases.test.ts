import { describe, expect, it } from "vitest";
import { claimSize } from "../../src/reporter/claim-size.ts";
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

describe("how much a worker claims", () => {
  const settings = { batchSize: 100, streamDepth: 16 };

  it("one-event requests: up to a batch held, claimed once half a batch has room, as before", () => {
    expect(claimSize({ size: 0, batched: 0, sending: 0 }, settings, false)).toBe(100);
    expect(claimSize({ size: 40, batched: 0, sending: 0 }, settings, false)).toBe(60);
    expect(claimSize({ size: 60, batched: 0, sending: 0 }, settings, false)).toBe(0);
    expect(claimSize({ size: 100, batched: 0, sending: 0 }, settings, false)).toBe(0);
  });

  it("the stream: several requests' worth held, claimed in whole requests while the others are sent", () => {
    // Five requests in flight: five more requests' worth in one claim.
    expect(claimSize({ size: 500, batched: 500, sending: 0 }, settings, true)).toBe(500);
    expect(claimSize({ size: 1_450, batched: 1_450, sending: 0 }, settings, true)).toBe(150);
    // Less than a request's worth of room: wait for one to settle.
    expect(claimSize({ size: 1_550, batched: 1_550, sending: 0 }, settings, true)).toBe(0);
    expect(claimSize({ size: 1_600, batched: 1_600, sending: 0 }, settings, true)).toBe(0);
  });

  it("with nothing held the stream claims five requests' worth; one-event requests held keep their own bound", () => {
    expect(claimSize({ size: 0, batched: 0, sending: 0 }, settings, true)).toBe(500);
    expect(claimSize({ size: 400, batched: 300, sending: 0 }, settings, false)).toBe(0);
    expect(claimSize({ size: 330, batched: 300, sending: 0 }, settings, false)).toBe(70);
    expect(claimSize({ size: 1_590, batched: 1_580, sending: 0 }, settings, false)).toBe(0);
  });
});
