import type Stripe from "stripe";
import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import { startPeriodic } from "../lib/periodic.ts";
import type { ReporterLogger } from "../reporter/logger.ts";
import { runReconciliation } from "./run.ts";

/** What the periodic reconciliation needs. */
export interface ReconcileJobOptions {
  db: Db;
  stripe: Stripe;
  /** This worker's id: the run's ran_by. */
  owner: string;
  /** How often one worker of all reconciles (METERLINE_RECONCILE_EVERY_MINUTES). */
  everyMs: number;
  hours: number;
  settleMinutes: number;
  logger: ReporterLogger;
}

/** How often a worker checks whether a run is due: runs start within this of their time. */
const CHECK_MS = 60_000;

/**
 * Every worker checks once a minute (and at start) whether a reconciliation is due; the guarded
 * start (run.ts) lets one of them run it, so the account's read limit sees one run per period
 * however many workers there are. Returns a stop function that waits for a run under way.
 */
export function startReconcileJob(o: ReconcileJobOptions): () => Promise<void> {
  return startPeriodic(Math.min(CHECK_MS, o.everyMs), async () => {
    try {
      const run = await runReconciliation(o.db, o.stripe, {
        hours: o.hours,
        settleMinutes: o.settleMinutes,
        ranBy: o.owner,
        unlessStartedWithinMs: o.everyMs,
      });
      if (run === null) return;
      if (run.error !== null) {
        o.logger.error({ reconciliation: run.id, error: run.error }, "reconciliation failed");
      } else if (run.driftGroups > 0) {
        o.logger.warn(
          { reconciliation: run.id, driftGroups: run.driftGroups },
          "reconciliation found drift: meterline reconcile --latest names the events",
        );
      } else {
        o.logger.info({ reconciliation: run.id, groups: run.groups }, "reconciliation: no drift");
      }
    } catch (err) {
      o.logger.error({ err: coerceError(err) }, "reconciliation could not start");
    }
  });
}
