import type { DeliveryMode } from "../db/schema/meters.ts";
import type { ClaimedEvent } from "../outbox/claim.ts";

/** A claim of an event: the event id and the claim count it was leased with. */
export interface ClaimRef {
  id: string;
  claims: number;
}

interface Entry {
  event: ClaimedEvent;
  /** When its lease was last set (claim or renewal), by our clock, taken before the statement. */
  since: number;
  /** A batch sink (the v2 stream) sends it: it counts apart (claim-size.ts). */
  batched: boolean;
  /** Its outcome is decided and queued for its settle write. */
  settling: boolean;
  /** The delivery mode of the sink it was queued for; null until then (or when never). */
  mode: DeliveryMode | null;
}

/**
 * The leases one worker holds (queued, in flight, or waiting for their settle write), by event
 * id: what its heartbeat renews. An entry is forgotten only by its OWN claim: a worker can rescue
 * its own expired lease (an event-loop stall, a database hiccup that stopped the heartbeat) while
 * the old send is still in flight, and the old claim's settle must not drop the new claim, or
 * the heartbeat would stop renewing it and another worker could take it mid-send.
 */
export class HeldLeases {
  private readonly byId = new Map<string, Entry>();
  private batchedCount = 0;
  private settlingCount = 0;
  private settlingBatched = 0;

  /** Events held now. */
  get size(): number {
    return this.byId.size;
  }

  /** Held events that a batch sink sends (marked after pre-flight). */
  get batched(): number {
    return this.batchedCount;
  }

  /** Whether an event is held (by any claim). */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Holds a newly claimed event, leased at `since` (a newer claim of the same id replaces the older). */
  hold(event: ClaimedEvent, since = Date.now()): void {
    this.drop(event.id);
    this.byId.set(event.id, { event, since, batched: false, settling: false, mode: null });
  }

  /** Records the delivery mode a held event is queued for (metrics label its outcome by it). */
  markMode(id: string, mode: DeliveryMode): void {
    const entry = this.byId.get(id);
    if (entry) entry.mode = mode;
  }

  /** The delivery mode a held event was queued for; null when it never was, or is not held. */
  modeOf(id: string): DeliveryMode | null {
    return this.byId.get(id)?.mode ?? null;
  }

  /** Marks a held event as one a batch sink sends. */
  markBatched(id: string): void {
    const entry = this.byId.get(id);
    if (!entry || entry.batched) return;
    entry.batched = true;
    this.batchedCount++;
    if (entry.settling) this.settlingBatched++;
  }

  /** Marks a held event's outcome as decided, waiting for its settle write (by its own claim). */
  markSettling(ref: ClaimRef): void {
    const entry = this.byId.get(ref.id);
    if (!entry || entry.event.claims !== ref.claims || entry.settling) return;
    entry.settling = true;
    this.settlingCount++;
    if (entry.batched) this.settlingBatched++;
  }

  /**
   * What is still to send, for claimSize: held events but those only waiting for their settle
   * write (their keys are free, their requests done: a settle that lingers to share its
   * statement must not hold back the next claim).
   */
  unsettled(): { size: number; batched: number } {
    return {
      size: this.byId.size - this.settlingCount,
      batched: this.batchedCount - this.settlingBatched,
    };
  }

  /** Forgets the event if it is still held by this very claim; a newer claim stays. */
  forget(ref: ClaimRef): void {
    if (this.byId.get(ref.id)?.event.claims === ref.claims) this.drop(ref.id);
  }

  /** Every id held. */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  /**
   * The ids whose lease the heartbeat should renew now: those set a sixth of the lease ago or
   * more. With a beat every third of the lease, a lease is first renewed between a sixth and a
   * half of the way through, so one failed beat still leaves the next in time, as when every
   * lease was renewed at every beat. An event sent and settled within seconds (the stream's
   * whole pipeline) is never renewed: no write, and no renewal of rows that a mark or settle
   * statement is updating at the same moment (two multi-row updates taking their row locks in
   * different orders deadlock, and Postgres cancels one).
   */
  renewable(now: number, leaseMs: number): string[] {
    const out: string[] = [];
    for (const [id, entry] of this.byId) if (now - entry.since >= leaseMs / 6) out.push(id);
    return out;
  }

  /** The heartbeat renewed these leases with a statement started at `at`. */
  renewed(ids: string[], at: number): void {
    for (const id of ids) {
      const entry = this.byId.get(id);
      if (entry) entry.since = Math.max(entry.since, at);
    }
  }

  private drop(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    if (entry.batched) this.batchedCount--;
    if (entry.settling) this.settlingCount--;
    if (entry.batched && entry.settling) this.settlingBatched--;
  }
}
