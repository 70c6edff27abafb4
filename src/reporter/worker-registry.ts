import { hostname } from "node:os";
import type { Db } from "../db/connect.ts";
import { coerceError } from "../lib/errors.ts";
import {
  beat,
  liveWorkerCount,
  registerWorker,
  stopWorker,
  workerGoneAfterMs,
} from "../outbox/workers.ts";
import type { ReporterLogger } from "./logger.ts";

// The "gone" rule lives with the table (the claim path in outbox/ uses it too); re-exported so
// the reporter reads it where it registers.
export { WORKER_GONE_AFTER_LEASES, workerGoneAfterMs } from "../outbox/workers.ts";

export interface WorkerRegistryDeps {
  db: Db;
  /** The worker's id: its lease owner and attempt rows' worker. */
  id: string;
  /** The worker's lease: it beats every third of it, as the lease heartbeat does. */
  leaseMs: number;
  /** Requests to Stripe in flight now, written with every beat. */
  inFlight: () => number;
  /**
   * Told, after every beat, how many workers are alive (this one included): each takes its share
   * of the account's rate limit, so N workers together stay under it (reporter/limiter.ts).
   */
  onLiveWorkers?: (n: number) => void;
  logger: ReporterLogger;
  /** Defaults: this process. */
  host?: string;
  pid?: number;
}

export interface WorkerRegistry {
  /** Marks the worker stopped (an orderly exit is gone at once). Never throws. */
  stop(): Promise<void>;
}

/**
 * Keeps this worker's row in the workers table: registers it, then beats every third of the
 * lease so readiness, `GET /v1/workers` and trace can tell a live worker from a dead one.
 * Synchronous, so a synchronous reporter start can call it: the registration runs in the
 * background, and a failed one is retried at the next beat. Errors are logged, never thrown:
 * the registry reports liveness, it must not take the worker down with it.
 */
export function startWorkerRegistry(deps: WorkerRegistryDeps): WorkerRegistry {
  const { db, id, logger } = deps;
  const host = deps.host ?? hostname();
  const pid = deps.pid ?? process.pid;
  let registered = false;
  let stopped = false;
  /** The write under way, if any. */
  let running: Promise<void> | null = null;

  async function tick(): Promise<void> {
    try {
      if (registered) {
        await beat(db, id, deps.inFlight());
      } else {
        await registerWorker(db, { id, host, pid });
        registered = true;
      }
      if (deps.onLiveWorkers) {
        const live = await liveWorkerCount(db, workerGoneAfterMs(deps.leaseMs));
        // At least this one: a beat that raced a slow clock must not give a share of zero.
        deps.onLiveWorkers(Math.max(1, live));
      }
    } catch (err) {
      logger.error({ err: coerceError(err) }, "could not record worker heartbeat");
    }
  }

  /** One write at a time: a slow database gets no pile of beats queued behind it. */
  function run(): void {
    if (stopped || running !== null) return;
    running = tick().finally(() => {
      running = null;
    });
  }

  run();
  const timer = setInterval(run, Math.max(10, Math.floor(deps.leaseMs / 3)));
  // The registry alone must not keep a process alive.
  timer.unref();

  let stopping: Promise<void> | null = null;
  return {
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(timer);
        // A register still under way would otherwise land after the stop and revive the row.
        await running;
        try {
          await stopWorker(db, id);
        } catch (err) {
          // The row then ages out: gone after two leases without a beat.
          logger.error({ err: coerceError(err) }, "could not mark worker stopped");
        }
      })();
      return stopping;
    },
  };
}
