import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import { extendLeases } from "../outbox/extend-leases.ts";
import type { ReporterLogger } from "./logger.ts";

/** The leases the heartbeat renews (held-leases.ts). */
export interface RenewableLeases {
  /** The ids to renew now. */
  renewable(now: number, leaseMs: number): string[];
  /** They were renewed by a statement started at `at`. */
  renewed(ids: string[], at: number): void;
}

/**
 * Extends the leases of the events a worker holds, every third of the lease, once they are a
 * sixth of the way through (RenewableLeases), so that a slow send or a long queue never lets
 * another worker take (and send) them. Returns the stop function.
 */
export function startHeartbeat(
  db: Db,
  owner: string,
  leaseMs: number,
  leases: RenewableLeases,
  logger: ReporterLogger,
): () => void {
  let beating = false;
  const timer = setInterval(
    () => {
      const at = Date.now();
      const ids = leases.renewable(at, leaseMs);
      if (beating || ids.length === 0) return;
      beating = true;
      extendLeases(db, owner, ids, leaseMs)
        .then(() => leases.renewed(ids, at))
        .catch((err) => logger.error({ err: coerceError(err) }, "could not extend leases"))
        .finally(() => {
          beating = false;
        });
    },
    Math.max(10, Math.floor(leaseMs / 3)),
  );
  // The heartbeat alone must not keep a process alive.
  timer.unref();
  return () => clearInterval(timer);
}
