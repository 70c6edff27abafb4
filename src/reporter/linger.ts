// How long the worker's batched writes (settles, first sends' marks) may wait for others to
// share their statement: one bound for both, from the lease.

/**
 * How long a settle may wait for others to share its statement: the configured linger, never
 * more than a tenth of the lease. A held event's lease is renewed every third of it (heartbeat),
 * so a row lingering that long still has most of its lease left when it is written.
 */
export function settleLingerMs(settings: { settleLingerMs: number; leaseMs: number }): number {
  return withinLease(settings.settleLingerMs, settings.leaseMs);
}

/** How long a first send's mark may wait for others (sent-marker.ts): bounded like a settle's. */
export function markLingerMs(settings: { markLingerMs: number; leaseMs: number }): number {
  return withinLease(settings.markLingerMs, settings.leaseMs);
}

function withinLease(lingerMs: number, leaseMs: number): number {
  return Math.max(0, Math.min(lingerMs, Math.floor(leaseMs / 10)));
}
