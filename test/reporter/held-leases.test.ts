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
});
