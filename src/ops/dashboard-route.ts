import type { FastifyPluginAsync } from "fastify";
import type { Db } from "../db/connect.ts";
import { readCircuits } from "../outbox/circuits.ts";
import { reasonOf } from "../outbox/reasons.ts";
import { listWorkers } from "../outbox/workers.ts";
import { reconciliationView } from "../reconcile/reconciliations-route.ts";
import { latestReconciliation } from "../reconcile/run.ts";
import { queueSnapshot } from "./queue-snapshot.ts";
import { lastHourThroughput, type ThroughputSource } from "./throughput.ts";

/** Workers listed at most: alive ones first, then the most recently seen. */
export const DASHBOARD_WORKERS_MAX = 20;

/** What the dashboard's summary reads. */
export interface DashboardRouteOptions {
  db: Db;
  /** How long a worker may go unseen and count as alive (outbox/workers.ts). */
  liveWithinMs: number;
  /** Where throughput comes from; the events table by default. */
  throughput?: ThroughputSource;
}

/**
 * GET /v1/dashboard (admin): what the person on call looks at first, in one answer, from the
 * reads the metrics, the circuits, the workers list and reconciliation already use: the queue
 * (depth, age, lag), the last hour's throughput, dead letters by code with the next step, open
 * circuits with their reason and next probe, workers with their liveness, the latest
 * reconciliation. The page at /dashboard shows it.
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardRouteOptions> = async (app, options) => {
  const { db, liveWithinMs } = options;
  const throughput = options.throughput ?? lastHourThroughput;
  app.get("/dashboard", async () => {
    const snapshot = await queueSnapshot(db, liveWithinMs);
    const circuits = await readCircuits(db);
    const workers = await listWorkers(db, liveWithinMs);
    const reconciliation = await latestReconciliation(db);
    const pending = snapshot.pending;
    const byWaitReason: Record<string, number> = {};
    for (const p of pending) byWaitReason[p.waitReason] = (byWaitReason[p.waitReason] ?? 0) + p.n;
    return {
      queue: {
        pending: pending.reduce((sum, p) => sum + p.n, 0),
        leased: pending.filter((p) => p.leased).reduce((sum, p) => sum + p.n, 0),
        by_wait_reason: byWaitReason,
        oldest_pending_age_s: snapshot.oldestPendingAgeS,
        lag_s: snapshot.oldestDueAgeS,
      },
      throughput: await throughput(db),
      dead_letters: snapshot.deadLetters
        .map((d) => ({ code: d.code, count: d.n, next_step: reasonOf(d.code)?.nextStep ?? null }))
        .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1)),
      circuits: circuits.map((c) => ({
        scope: c.scope,
        reason: c.reason,
        opened_by: c.openedBy,
        opened_at: c.openedAt.toISOString(),
        next_probe_at: c.nextProbeAt.toISOString(),
        probe_owner: c.probeOwner,
      })),
      workers: {
        alive: workers.filter((w) => w.alive).length,
        total: workers.length,
        list: workers.slice(0, DASHBOARD_WORKERS_MAX).map((w) => ({
          id: w.id,
          host: w.host,
          pid: w.pid,
          alive: w.alive,
          in_flight: w.inFlight,
          started_at: w.startedAt.toISOString(),
          last_seen_at: w.lastSeenAt.toISOString(),
          stopped_at: w.stoppedAt?.toISOString() ?? null,
        })),
      },
      reconciliation: reconciliation ? summaryOf(reconciliationView(reconciliation)) : null,
    };
  });
};

/** A reconciliation without its differences (each with the events behind it: any size). */
function summaryOf({ drift, ...summary }: ReturnType<typeof reconciliationView>) {
  return summary;
}
