import type { ClaimedEvent } from "../outbox/claim.ts";

/** A claim of an event: the event id and the claim count it was leased with. */
export interface ClaimRef {
  id: string;
  claims: number;
}

/**
 * The leases one worker holds (queued, in flight, or waiting for their settle write), by event
 * id: what its heartbeat renews. An entry is forgotten only by its OWN claim: a worker can rescue
 * its own expired lease (an event-loop stall, a database hiccup that stopped the heartbeat) while
 * the old send is still in flight, and the old claim's settle must not drop the new claim, or
 * the heartbeat would stop renewing it and another worker could take it mid-send.
 */
export class HeldLeases {
  private readonly byId = new Map<string, ClaimedEvent>();

  /** Events held now. */
  get size(): number {
    return this.byId.size;
  }

  /** Whether an event is held (by any claim). */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Holds a newly claimed event (a newer claim of the same id replaces the older). */
  hold(event: ClaimedEvent): void {
    this.byId.set(event.id, event);
  }

  /** Forgets the event if it is still held by this very claim; a newer claim stays. */
  forget(ref: ClaimRef): void {
    if (this.byId.get(ref.id)?.claims === ref.claims) this.byId.delete(ref.id);
  }

  /** The ids the heartbeat renews. */
  ids(): string[] {
    return [...this.byId.keys()];
  }
}
