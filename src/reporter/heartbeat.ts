import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import { extendLeases } from "../outbox/extend-leases.ts";
import type { ReporterLogger } from "./logger.ts";

/**
 * Extends the leases of the events a worker holds every third of the lease, so that a slow send
 * or a long queue never lets another worker take (and send) them. Returns the stop function.
 */
export function startHeartbeat(
  db: Db,
  owner: string,
  leaseMs: number,
  held: () => string[],
  logger: ReporterLogger,
): () => void {
  let beating = false;
  const timer = setInterval(
    () => {
      const ids = held();
      if (beating || ids.length === 0) return;
      beating = true;
      extendLeases(db, owner, ids, leaseMs)
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
